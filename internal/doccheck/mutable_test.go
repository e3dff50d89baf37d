package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestNoExportedMutableDefaults holds issue 17 §1's rule that no package a
// shop can import exports a mutable default: a package-level exported
// variable of slice or map type (as handler.DefaultTailSteps and
// model.NotifyFields were) lets one host change the kit's defaults for
// every other user in the process, so such defaults are functions that
// return a fresh copy. It parses every non-test Go file of every library
// module (example/, e2e, cmd/ and tools/ are programs, and internal/
// packages cannot be imported by a shop).
func TestNoExportedMutableDefaults(t *testing.T) {
	found, err := mutableDefaults(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("%s: an exported variable of slice or map type; make it a function returning a fresh copy", f)
	}
}

// TestMutableCheckerFinds runs the check over a tiny tree with one slice
// and one map default, so that the test above cannot pass by finding
// nothing.
func TestMutableCheckerFinds(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("p/p.go", `package p

import "errors"

var Steps = []int{1, 2}

var (
	Names map[string]int
	ErrX  = errors.New("x")
	hidden = []int{3}
)

var Fixed = [2]int{1, 2}
`)
	write("p/p_test.go", "package p\n\nvar TestOnly = []int{1}\n")
	write("internal/q/q.go", "package q\n\nvar Inner = []int{1}\n")
	write("example/e.go", "package main\n\nvar Demo = []int{1}\n")
	got, err := mutableDefaults(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"p/p.go: Names", "p/p.go: Steps"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// mutableDefaults lists "file: Name" for every exported package-level
// variable of slice or map type (declared so, or given a slice or map
// literal) in the library's non-test files under root.
func mutableDefaults(root string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			n := d.Name()
			if path != root && (strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") || n == "testdata" || n == "internal") {
				return filepath.SkipDir
			}
			switch rel {
			case "example", "e2e", "cmd", "tools":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !name.IsExported() {
						continue
					}
					typ := vs.Type
					if typ == nil && i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.CompositeLit); ok {
							typ = lit.Type
						}
					}
					if mutableType(typ) {
						found = append(found, rel+": "+name.Name)
					}
				}
			}
		}
		return nil
	})
	sort.Strings(found)
	return found, err
}

// mutableType reports whether typ is a slice or a map type.
func mutableType(typ ast.Expr) bool {
	switch t := typ.(type) {
	case *ast.ArrayType:
		return t.Len == nil
	case *ast.MapType:
		return true
	}
	return false
}
