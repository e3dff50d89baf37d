// Command release keeps the repository's modules releasable as one version
// and proves that a shop outside the repository can install them.
//
// Every module of the repository is released together, at the version in
// the file RELEASE_VERSION at the repository root; nested modules require
// the root module (and any sibling) at that version, with no replace:
// working inside the repository goes through the committed go.work.
//
//	go run ./tools/release set [VERSION]  write VERSION (default: RELEASE_VERSION) into every go.mod
//	go run ./tools/release check          fail unless every go.mod agrees with RELEASE_VERSION
//	go run ./tools/release tags           print the tags to push, one per library module
//	go run ./tools/release proxy DIR      write a file-system module proxy serving every library module
//	go run ./tools/release consumer       install every library module from such a proxy into a
//	                                      fresh module outside the repository, then build and run it
//
// RELEASING.md describes the procedure.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// Root is the module path of the repository's root module.
const Root = "github.com/cypaykit/kit"

// notLibrary lists the directories (relative to the repository root)
// whose modules are not installed by anyone: programs, end-to-end tests
// and this tool. They get no tag and are not served by the proxy, but
// their requirements of library modules follow the release version too.
var notLibrary = []string{"e2e", "example", "tools"}

// Module is one module of the repository.
type Module struct {
	Path    string // module path
	Dir     string // absolute directory
	Rel     string // directory relative to the repository root, "." for the root
	Library bool   // installed by users: tagged and served by the proxy
}

// Tag is the git tag that releases m at version v: Go finds a nested
// module's version under a tag prefixed by its directory.
func (m Module) Tag(v string) string {
	if m.Rel == "." {
		return v
	}
	return filepath.ToSlash(m.Rel) + "/" + v
}

func main() {
	root := flag.String("root", "", "repository root (default: found from the working directory)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: release [-root DIR] set [VERSION] | check | tags | proxy DIR | consumer [-keep]")
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*root, flag.Arg(0), flag.Args()[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(root, cmd string, args []string) error {
	if root == "" {
		var err error
		if root, err = findRoot(); err != nil {
			return err
		}
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	mods, err := Modules(root)
	if err != nil {
		return err
	}
	switch cmd {
	case "set":
		v, err := ReadVersion(root)
		if len(args) > 0 {
			v, err = args[0], nil
		}
		if err != nil {
			return err
		}
		return Set(root, mods, v)
	case "check":
		v, err := ReadVersion(root)
		if err != nil {
			return err
		}
		problems := Check(root, mods, v)
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, p)
		}
		if len(problems) > 0 {
			return fmt.Errorf("%d problem(s); `go run ./tools/release set` fixes the versions", len(problems))
		}
		fmt.Printf("ok: %d modules at %s\n", len(mods), v)
		return nil
	case "tags":
		v, err := ReadVersion(root)
		if err != nil {
			return err
		}
		for _, m := range mods {
			if m.Library {
				fmt.Println(m.Tag(v))
			}
		}
		return nil
	case "proxy":
		if len(args) != 1 {
			return errors.New("proxy needs a directory")
		}
		v, err := ReadVersion(root)
		if err != nil {
			return err
		}
		return Proxy(root, mods, v, args[0])
	case "consumer":
		fs := flag.NewFlagSet("consumer", flag.ContinueOnError)
		keep := fs.Bool("keep", false, "keep the temporary directory and print its path")
		if err := fs.Parse(args); err != nil {
			return err
		}
		v, err := ReadVersion(root)
		if err != nil {
			return err
		}
		return Consumer(root, mods, v, *keep)
	}
	flag.Usage()
	return fmt.Errorf("unknown command %q", cmd)
}

// findRoot walks up from the working directory to the directory whose
// go.mod declares the root module.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modfile.ModulePath(data) == Root {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory; use -root", Root)
		}
		dir = parent
	}
}

// ReadVersion reads RELEASE_VERSION: one semantic version, v-prefixed.
func ReadVersion(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "RELEASE_VERSION"))
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(data))
	if !semver.IsValid(v) || semver.Canonical(v) != v || semver.Build(v) != "" {
		return "", fmt.Errorf("RELEASE_VERSION: %q is not a canonical semantic version like v0.1.0", v)
	}
	return v, nil
}

// Modules finds every module of the repository, sorted by directory
// with the root first.
func Modules(root string) ([]Module, error) {
	var mods []Module
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "go.mod" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dir := filepath.Dir(p)
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return err
		}
		path := modfile.ModulePath(data)
		if path == "" {
			return fmt.Errorf("%s: no module line", p)
		}
		if want := Root + strings.TrimPrefix("/"+filepath.ToSlash(rel), "/."); path != want {
			return fmt.Errorf("%s: module %s, want %s (a nested module's path must follow its directory for its tags to work)", p, path, want)
		}
		lib := true
		for _, n := range notLibrary {
			if rel == n || strings.HasPrefix(filepath.ToSlash(rel), n+"/") {
				lib = false
			}
		}
		mods = append(mods, Module{Path: path, Dir: dir, Rel: rel, Library: lib})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(mods, func(a, b Module) int {
		if a.Rel == "." || b.Rel == "." {
			return boolCmp(b.Rel == ".", a.Rel == ".")
		}
		return strings.Compare(a.Rel, b.Rel)
	})
	if len(mods) == 0 || mods[0].Path != Root {
		return nil, fmt.Errorf("%s: not the root of %s", root, Root)
	}
	return mods, nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// isRepo reports whether path is one of the repository's modules.
func isRepo(mods []Module, path string) bool {
	return slices.ContainsFunc(mods, func(m Module) bool { return m.Path == path })
}

func parse(m Module) (*modfile.File, error) {
	name := filepath.Join(m.Dir, "go.mod")
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return modfile.Parse(name, data, nil)
}

// Set writes v into every requirement of a repository module in every
// go.mod, and drops every replace of a repository module: inside the
// repository go.work stands in for them, and outside it Go ignores a
// dependency's replace anyway.
func Set(root string, mods []Module, v string) error {
	if !semver.IsValid(v) || semver.Canonical(v) != v {
		return fmt.Errorf("%q is not a canonical semantic version like v0.1.0", v)
	}
	for _, m := range mods {
		f, err := parse(m)
		if err != nil {
			return err
		}
		for _, r := range f.Require {
			if isRepo(mods, r.Mod.Path) && r.Mod.Version != v {
				if err := f.AddRequire(r.Mod.Path, v); err != nil {
					return err
				}
			}
		}
		for _, r := range slices.Clone(f.Replace) {
			if isRepo(mods, r.Old.Path) {
				if err := f.DropReplace(r.Old.Path, r.Old.Version); err != nil {
					return err
				}
			}
		}
		f.Cleanup()
		out, err := f.Format()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(m.Dir, "go.mod"), out, 0o644); err != nil {
			return err
		}
	}
	if err := setWork(root, mods, v); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "RELEASE_VERSION"), []byte(v+"\n"), 0o644)
}

// setWork makes go.work use every module and replace each at version v
// by its directory. A workspace's modules are only the roots of version
// selection, not stand-ins for every version of themselves, so without
// the replaces the go command would look for v in the module proxy
// before the tags exist (go.dev/issue/66516).
//
// The use block keeps its order (a module it lacks is added at its end):
// `go list -m` lists the workspace in that order, and the README's test
// command starts packages in the order of its arguments, so go.work names
// the modules with the longest tests first. Sorting it would put them
// last and add minutes to the command.
func setWork(root string, mods []Module, v string) error {
	name := filepath.Join(root, "go.work")
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	wf, err := modfile.ParseWork(name, data, nil)
	if err != nil {
		return err
	}
	for _, r := range slices.Clone(wf.Replace) {
		if isRepo(mods, r.Old.Path) {
			if err := wf.DropReplace(r.Old.Path, r.Old.Version); err != nil {
				return err
			}
		}
	}
	for _, m := range mods {
		if err := wf.AddUse(workDir(m), ""); err != nil {
			return err
		}
		if err := wf.AddReplace(m.Path, v, workDir(m), ""); err != nil {
			return err
		}
	}
	wf.Cleanup()
	return os.WriteFile(name, modfile.Format(wf.Syntax), 0o644)
}

// workDir is m's directory as go.work names it.
func workDir(m Module) string {
	if m.Rel == "." {
		return "."
	}
	return "./" + filepath.ToSlash(m.Rel)
}

// Check returns one line per way the repository disagrees with release
// v: a requirement of a repository module at another version, a replace
// in a library module (or of a repository module anywhere), a module
// missing from go.work or its replace there, or no CHANGELOG.md section
// for v.
func Check(root string, mods []Module, v string) []string {
	var problems []string
	for _, m := range mods {
		f, err := parse(m)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		name := filepath.Join(m.Rel, "go.mod")
		for _, r := range f.Require {
			if isRepo(mods, r.Mod.Path) && r.Mod.Version != v {
				problems = append(problems, fmt.Sprintf("%s: requires %s %s, not the release version %s", name, r.Mod.Path, r.Mod.Version, v))
			}
		}
		for _, r := range f.Replace {
			if m.Library || isRepo(mods, r.Old.Path) {
				problems = append(problems, fmt.Sprintf("%s: replace %s: a replace is ignored where the module is a dependency, so users would build something else", name, r.Old.Path))
			}
		}
	}
	work, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err == nil {
		var wf *modfile.WorkFile
		if wf, err = modfile.ParseWork("go.work", work, nil); err == nil {
			for _, m := range mods {
				if !slices.ContainsFunc(wf.Use, func(u *modfile.Use) bool { return filepath.Clean(u.Path) == m.Rel }) {
					problems = append(problems, fmt.Sprintf("go.work: no use of %s", workDir(m)))
				}
				if !slices.ContainsFunc(wf.Replace, func(r *modfile.Replace) bool {
					return r.Old.Path == m.Path && r.Old.Version == v && filepath.Clean(r.New.Path) == m.Rel
				}) {
					problems = append(problems, fmt.Sprintf("go.work: no replace %s %s => %s", m.Path, v, workDir(m)))
				}
			}
		}
	}
	if err != nil {
		problems = append(problems, "go.work: "+err.Error())
	}
	changelog, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
	if err != nil || !strings.Contains(string(changelog), "\n## "+v) {
		problems = append(problems, fmt.Sprintf("CHANGELOG.md: no \"## %s\" section", v))
	}
	return problems
}
