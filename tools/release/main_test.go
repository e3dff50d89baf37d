package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeRepo lays out a repository as it was before v0.1.0: a nested
// library module and an example reaching the root through replaces at
// v0.0.0, and a go.work that only uses them.
func fakeRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"go.mod":             "module github.com/cypaykit/kit\n\ngo 1.22\n",
		"handler/handler.go": "package handler\n",
		"cmd/tool/main.go":   "package main\n",
		"RELEASE_VERSION":    "v0.1.0\n",
		"CHANGELOG.md":       "# Changelog\n\n## v0.1.0\n",
		"go.work":            "go 1.26\n\nuse (\n\t.\n\t./adapter/kitgin\n\t./example\n)\n",
		"adapter/kitgin/go.mod": "module github.com/cypaykit/kit/adapter/kitgin\n\ngo 1.22\n\n" +
			"require github.com/cypaykit/kit v0.0.0-00010101000000-000000000000\n\nreplace github.com/cypaykit/kit => ../..\n",
		"adapter/kitgin/kitgin.go": "package kitgin\n",
		"example/go.mod": "module github.com/cypaykit/kit/example\n\ngo 1.25\n\n" +
			"require (\n\tgithub.com/cypaykit/kit v0.0.0\n\tgithub.com/cypaykit/kit/adapter/kitgin v0.0.0\n)\n\n" +
			"replace github.com/cypaykit/kit => ..\n\nreplace github.com/cypaykit/kit/adapter/kitgin => ../adapter/kitgin\n",
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestModulesTagsAndLibraries(t *testing.T) {
	root := fakeRepo(t)
	mods, err := Modules(root)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, m := range mods {
		if m.Library {
			tags = append(tags, m.Tag("v0.1.0"))
		}
	}
	if want := []string{"v0.1.0", "adapter/kitgin/v0.1.0"}; !slices.Equal(tags, want) {
		t.Errorf("tags = %q, want %q (the example is not a library)", tags, want)
	}
}

func TestCheckThenSet(t *testing.T) {
	root := fakeRepo(t)
	mods, err := Modules(root)
	if err != nil {
		t.Fatal(err)
	}
	problems := Check(root, mods, "v0.1.0")
	for _, want := range []string{
		"adapter/kitgin/go.mod: requires github.com/cypaykit/kit v0.0.0-00010101000000-000000000000",
		"adapter/kitgin/go.mod: replace github.com/cypaykit/kit",
		"example/go.mod: replace github.com/cypaykit/kit/adapter/kitgin",
		"go.work: no replace github.com/cypaykit/kit/adapter/kitgin v0.1.0 => ./adapter/kitgin",
	} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("Check missed %q; got:\n%s", want, strings.Join(problems, "\n"))
		}
	}

	if err := Set(root, mods, "v0.1.0"); err != nil {
		t.Fatal(err)
	}
	if problems := Check(root, mods, "v0.1.0"); len(problems) > 0 {
		t.Errorf("after Set, Check still finds:\n%s", strings.Join(problems, "\n"))
	}
	gomod, err := os.ReadFile(filepath.Join(root, "adapter", "kitgin", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(gomod); strings.Contains(s, "replace") || !strings.Contains(s, "github.com/cypaykit/kit v0.1.0") {
		t.Errorf("adapter/kitgin/go.mod after Set:\n%s", s)
	}
}

// TestSetKeepsWorkOrder checks that Set leaves go.work's use block in
// its order, comments included, and adds a module it lacks at the end:
// the order decides when the README's test command starts each module's
// tests, and go.work puts the longest first.
func TestSetKeepsWorkOrder(t *testing.T) {
	root := fakeRepo(t)
	work := "go 1.26\n\nuse (\n\t// longest tests first\n\t./example\n\t.\n)\n"
	if err := os.WriteFile(filepath.Join(root, "go.work"), []byte(work), 0o644); err != nil {
		t.Fatal(err)
	}
	mods, err := Modules(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := Set(root, mods, "v0.1.0"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	want := "use (\n\t// longest tests first\n\t./example\n\t.\n\t./adapter/kitgin\n)"
	if !strings.Contains(got, want) {
		t.Errorf("go.work after Set:\n%s\nwant its use block to be\n%s", got, want)
	}
}

func TestCheckWantsChangelogSection(t *testing.T) {
	root := fakeRepo(t)
	mods, err := Modules(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := Set(root, mods, "v0.2.0"); err != nil {
		t.Fatal(err)
	}
	problems := Check(root, mods, "v0.2.0")
	if !slices.Equal(problems, []string{`CHANGELOG.md: no "## v0.2.0" section`}) {
		t.Errorf("Check = %q, want only the missing CHANGELOG section", problems)
	}
}

// TestProxyZipLeavesOutNestedModules checks that the root module's zip
// holds its own packages, not the nested modules', as the go command's.
func TestProxyZipLeavesOutNestedModules(t *testing.T) {
	root := fakeRepo(t)
	mods, err := Modules(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Proxy(root, mods, "v0.1.0", dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"list", "v0.1.0.info", "v0.1.0.mod", "v0.1.0.zip"} {
		if _, err := os.Stat(filepath.Join(dir, "github.com/cypaykit/kit/adapter/kitgin/@v", name)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "github.com/cypaykit/kit/example")); err == nil {
		t.Error("the proxy serves the example module, which is not a library")
	}
	z, err := zip.OpenReader(filepath.Join(dir, "github.com/cypaykit/kit/@v/v0.1.0.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var names []string
	for _, f := range z.File {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	want := []string{
		"github.com/cypaykit/kit@v0.1.0/CHANGELOG.md",
		"github.com/cypaykit/kit@v0.1.0/RELEASE_VERSION",
		"github.com/cypaykit/kit@v0.1.0/cmd/tool/main.go",
		"github.com/cypaykit/kit@v0.1.0/go.mod",
		"github.com/cypaykit/kit@v0.1.0/go.work",
		"github.com/cypaykit/kit@v0.1.0/handler/handler.go",
	}
	if !slices.Equal(names, want) {
		t.Errorf("root zip holds %q, want %q", names, want)
	}
}

func TestImportable(t *testing.T) {
	root := fakeRepo(t)
	mods, err := Modules(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Importable(mods[0], mods)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"github.com/cypaykit/kit/handler"}; !slices.Equal(got, want) {
		t.Errorf("Importable(root) = %q, want %q (no main, no nested module)", got, want)
	}
}

// TestCommandModule: a nested module whose root package is main
// (cmd/cypay) is a library module for the release (tagged
// cmd/cypay/v0.1.0, served by the proxy) but a command for the consumer:
// installed, not imported, and not part of the root module's packages.
func TestCommandModule(t *testing.T) {
	root := fakeRepo(t)
	for name, body := range map[string]string{
		"cmd/cypay/go.mod":  "module github.com/cypaykit/kit/cmd/cypay\n\ngo 1.22\n\nrequire github.com/cypaykit/kit v0.1.0\n",
		"cmd/cypay/main.go": "package main\n\nfunc main() {}\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mods, err := Modules(root)
	if err != nil {
		t.Fatal(err)
	}
	var tags, commands []string
	for _, m := range mods {
		if m.Library {
			tags = append(tags, m.Tag("v0.1.0"))
		}
		cmd, err := IsCommand(m)
		if err != nil {
			t.Fatal(err)
		}
		if cmd {
			commands = append(commands, m.Path)
		}
	}
	if want := []string{"v0.1.0", "adapter/kitgin/v0.1.0", "cmd/cypay/v0.1.0"}; !slices.Equal(tags, want) {
		t.Errorf("tags = %q, want %q", tags, want)
	}
	if want := []string{"github.com/cypaykit/kit/cmd/cypay"}; !slices.Equal(commands, want) {
		t.Errorf("commands = %q, want %q", commands, want)
	}
}

// TestCheckBuildInfo reads `go version -m` output of an installed
// command: everything of the kit at the release, nothing replaced.
func TestCheckBuildInfo(t *testing.T) {
	const path = "github.com/cypaykit/kit/cmd/cypay"
	kit := []string{"github.com/cypaykit/kit", "github.com/cypaykit/kit/store/sqlstore"}
	good := "/tmp/bin/cypay: go1.26.0\n\tpath\tgithub.com/cypaykit/kit/cmd/cypay\n" +
		"\tmod\tgithub.com/cypaykit/kit/cmd/cypay\tv0.1.0\th1:abc=\n" +
		"\tdep\tgithub.com/cypaykit/kit\tv0.1.0\th1:def=\n" +
		"\tdep\tgithub.com/cypaykit/kit/store/sqlstore\tv0.1.0\th1:ghi=\n" +
		"\tdep\tmodernc.org/sqlite\tv1.36.0\th1:jkl=\n"
	if err := checkBuildInfo(good, path, "v0.1.0", kit); err != nil {
		t.Errorf("good build info: %v", err)
	}
	for name, info := range map[string]string{
		"main at another version": strings.Replace(good, "cmd/cypay\tv0.1.0", "cmd/cypay\t(devel)", 1),
		"root at another version": strings.Replace(good, "kit\tv0.1.0\th1:def=", "kit\tv0.0.0\th1:def=", 1),
		"replaced":                strings.Replace(good, "\tdep\tmodernc.org", "\t=>\t../kit\t\n\tdep\tmodernc.org", 1),
		"not a library module":    good + "\tdep\tgithub.com/cypaykit/kit/example\tv0.1.0\th1:x=\n",
		"no main module":          strings.Replace(good, "\tmod\t", "\tdep\t", 1),
	} {
		if err := checkBuildInfo(info, path, "v0.1.0", kit); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
