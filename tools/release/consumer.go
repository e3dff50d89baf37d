package main

import (
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Consumer does what a shop does with the release, outside the
// repository: in a fresh module in a temporary directory, with the
// release served by a file-system proxy (Proxy) ahead of the usual
// GOPROXY, no go.work, and the repository's modules exempt from the
// checksum database (they are not published yet), it runs `go get` of
// every nested library module at version v (which must bring the root
// module along by itself), then of the root, builds and runs a program that
// imports every importable package of every library module and checks
// from its build info that each came at v, unreplaced, and builds and
// tests the README's quick start (example/quickstart) as a copy. A
// command module (cmd/cypay) is not imported but installed, as the README
// says (`go install …/cmd/cypay@v`), and the installed binary is run and
// its build info checked the same way.
//
// A nested module that requires the root module at a version the proxy
// does not serve, or reaches it only through a replace, fails here.
func Consumer(root string, mods []Module, v string, keep bool) error {
	start := time.Now()
	tmp, err := os.MkdirTemp("", "cypay-consumer-")
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(root, tmp); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("temporary directory %s is inside the repository; set TMPDIR", tmp)
	}
	if keep {
		fmt.Println("consumer: keeping", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	proxy := filepath.Join(tmp, "proxy")
	if err := Proxy(root, mods, v, proxy); err != nil {
		return err
	}
	step(start, "proxy built in %s", proxy)

	goenv, err := exec.Command("go", "env", "GOPROXY", "GOMODCACHE").Output()
	if err != nil {
		return fmt.Errorf("go env: %w", err)
	}
	upstream, cache, _ := strings.Cut(strings.TrimSpace(string(goenv)), "\n")
	// A module cache of its own, kept between runs so that the build cache
	// still knows its dependencies, and emptied of the kit's modules, so
	// that no version cached by an earlier run (of another checkout)
	// stands in for this one, nor lands in the usual cache to clash with
	// the published release. The usual cache's download directory, a
	// proxy in the same layout, serves the dependencies it already holds.
	modcache, err := consumerCache()
	if err != nil {
		return err
	}
	env := consumerEnv(
		"file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(filepath.Join(cache, "cache", "download"))+","+upstream,
		modcache)

	app := filepath.Join(tmp, "shop")
	var nested, pkgs, want []string
	var commands []Module
	for _, m := range mods {
		if !m.Library {
			continue
		}
		if cmd, err := IsCommand(m); err != nil {
			return err
		} else if cmd {
			commands = append(commands, m)
			continue
		}
		if m.Path != Root {
			nested = append(nested, m.Path+"@"+v)
		}
		want = append(want, m.Path)
		ps, err := Importable(m, mods)
		if err != nil {
			return err
		}
		pkgs = append(pkgs, ps...)
	}
	if err := os.MkdirAll(filepath.Join(app, "all"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(app, "all", "main.go"), allProgram(pkgs, want, v), 0o644); err != nil {
		return err
	}
	if err := copyDir(filepath.Join(root, "example", "quickstart"), filepath.Join(app, "quickstart")); err != nil {
		return err
	}

	goCmd := func(args ...string) error {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = app, append(env, "GOBIN="+filepath.Join(tmp, "bin"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go %s in %s: %w\n%s", strings.Join(args, " "), app, err, out.String())
		}
		step(start, "go %s", strings.Join(args, " "))
		if s := strings.TrimSpace(out.String()); s != "" && args[0] != "get" {
			fmt.Println(indent(s))
		}
		return nil
	}
	if err := goCmd("mod", "init", "example.com/shop"); err != nil {
		return err
	}
	// As a shop does: the adapter, store or observer it needs, which must
	// bring the root module along at the release version by itself.
	if err := goCmd(append([]string{"get"}, nested...)...); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"get", Root + "@" + v},
		{"mod", "tidy"},
		{"run", "./all"},
		{"test", "-count=1", "./quickstart"},
	} {
		if err := goCmd(args...); err != nil {
			return err
		}
	}
	// As an operator does: go install of each command at the release,
	// from outside any module, into a directory of its own; then run it
	// and read its build info.
	gobin := filepath.Join(tmp, "bin")
	for _, m := range commands {
		if err := goCmd("install", m.Path+"@"+v); err != nil {
			return err
		}
	}
	for _, m := range commands {
		bin := filepath.Join(gobin, filepath.Base(m.Path))
		if out, err := exec.Command(bin, "help").CombinedOutput(); err != nil {
			return fmt.Errorf("%s help: %w\n%s", bin, err, out)
		}
		info, err := exec.Command("go", "version", "-m", bin).Output()
		if err != nil {
			return fmt.Errorf("go version -m %s: %w", bin, err)
		}
		if err := checkBuildInfo(string(info), m.Path, v, want); err != nil {
			return fmt.Errorf("%s: %w\n%s", bin, err, info)
		}
		step(start, "%s installed at %s and runs", m.Path, v)
	}
	fmt.Printf("consumer: ok, %d library modules and %d commands at %s installed from outside the repository in %s\n",
		len(want), len(commands), v, time.Since(start).Round(time.Second))
	return nil
}

// IsCommand reports whether m is a command: its root package is main.
// A command is installed, not imported.
func IsCommand(m Module) (bool, error) {
	name, err := packageName(m.Dir)
	return name == "main", err
}

// checkBuildInfo reads `go version -m` output: the binary's main module
// must be path at v, and every module of kit it holds must be at v,
// unreplaced, and one of kit.
func checkBuildInfo(info, path, v string, kit []string) error {
	var mainOK bool
	for _, line := range strings.Split(info, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "=>" {
			return fmt.Errorf("a module is replaced: %s", strings.TrimSpace(line))
		}
		if len(f) < 3 {
			continue
		}
		switch {
		case f[0] == "mod" && f[1] == path:
			mainOK = f[2] == v
		case f[0] == "dep" && (f[1] == Root || strings.HasPrefix(f[1], Root+"/")):
			if f[2] != v || !slices.Contains(kit, f[1]) {
				return fmt.Errorf("%s %s: want a library module at %s", f[1], f[2], v)
			}
		}
	}
	if !mainOK {
		return fmt.Errorf("main module is not %s %s", path, v)
	}
	return nil
}

// consumerEnv is the environment of the shop's go commands: the proxy
// first, its own module cache, no workspace, the repository's modules through the proxy (not
// private, which would bypass it) but not checked against the checksum
// database, which cannot know them before the tags are pushed.
func consumerEnv(goproxy, modcache string) []string {
	drop := []string{"GOWORK", "GOPROXY", "GONOSUMDB", "GONOPROXY", "GOPRIVATE", "GOFLAGS", "GOTOOLCHAIN", "GOMODCACHE", "GODEBUG"}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			env = append(env, kv)
		}
	}
	// -modcacherw: the private module cache must be removable afterwards.
	flags := strings.TrimSpace(os.Getenv("GOFLAGS") + " -mod=mod -modcacherw")
	return append(env,
		"GOWORK=off",
		"GOPROXY="+goproxy,
		"GONOSUMDB="+Root,
		"GONOPROXY=",
		"GOPRIVATE=",
		"GOFLAGS="+flags,
		"GOTOOLCHAIN=local",
		"GOMODCACHE="+modcache,
		// The go command indexes module-cache directories in the build
		// cache by path, trusting them never to change. The kit's
		// modules are re-extracted at the same path and version with
		// new contents on every run, so a stale index would hide a new
		// package (seen: "does not contain package …/sqlsim"). Off.
		"GODEBUG="+strings.TrimPrefix(os.Getenv("GODEBUG")+",goindex=0", ","),
	)
}

// consumerCache returns the consumer's module cache, without any
// version of the kit's modules.
func consumerCache() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, "cypaykit-consumer", "mod")
	// The root module extracts beside its nested ones: kit@v0.1.0 next
	// to kit/store/sqlstore@v0.1.0.
	roots, err := filepath.Glob(filepath.Join(dir, Root+"@*"))
	if err != nil {
		return "", err
	}
	for _, kit := range append(roots, filepath.Join(dir, Root), filepath.Join(dir, "cache", "download", Root)) {
		if err := os.RemoveAll(kit); err != nil {
			return "", fmt.Errorf("emptying the consumer's module cache: %w", err)
		}
	}
	return dir, nil
}

// Importable lists the import paths of m's packages that a user can
// import: not main, not internal, not testdata, not in a nested module.
func Importable(m Module, mods []Module) ([]string, error) {
	var pkgs []string
	err := filepath.WalkDir(m.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if p != m.Dir {
			if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "internal" || name == "vendor" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		pkg, err := packageName(p)
		if err != nil || pkg == "" || pkg == "main" {
			return err
		}
		rel, err := filepath.Rel(m.Dir, p)
		if err != nil {
			return err
		}
		path := m.Path
		if rel != "." {
			path += "/" + filepath.ToSlash(rel)
		}
		pkgs = append(pkgs, path)
		return nil
	})
	return pkgs, err
}

// packageName is the package clause of dir's first non-test Go file,
// or "" if it has none.
func packageName(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, n), nil, parser.PackageClauseOnly)
		if err != nil {
			return "", err
		}
		return f.Name.Name, nil
	}
	return "", nil
}

// allProgram imports every package in pkgs and, when run, fails unless
// its build info shows every module in want at version v, unreplaced.
func allProgram(pkgs, want []string, v string) []byte {
	var b bytes.Buffer
	b.WriteString("// Command all imports every package of every library module of the\n// release and checks where they came from.\npackage main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"runtime/debug\"\n\n")
	for _, p := range pkgs {
		fmt.Fprintf(&b, "\t_ %q\n", p)
	}
	b.WriteString(")\n\nvar want = []string{\n")
	for _, w := range want {
		fmt.Fprintf(&b, "\t%q,\n", w)
	}
	fmt.Fprintf(&b, `}

func main() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(os.Stderr, "no build info")
		os.Exit(1)
	}
	got := map[string]*debug.Module{}
	for _, d := range bi.Deps {
		got[d.Path] = d
	}
	bad := 0
	for _, w := range want {
		d := got[w]
		switch {
		case d == nil:
			fmt.Printf("%%s: not in the binary\n", w)
			bad++
		case d.Replace != nil || d.Version != %q:
			fmt.Printf("%%s: %%s (replace %%v), want %s\n", w, d.Version, d.Replace)
			bad++
		default:
			fmt.Printf("%%s %%s %%s\n", d.Path, d.Version, d.Sum)
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
}
`, v, v)
	return b.Bytes()
}

// copyDir copies the regular files of src (not its subdirectories) to dst.
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func step(start time.Time, format string, args ...any) {
	fmt.Printf("consumer: [%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
