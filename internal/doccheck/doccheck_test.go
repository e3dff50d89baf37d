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

// moduleRoot is the root module's directory, two levels up.
const moduleRoot = "../.."

// TestExportedNamesDocumented parses every non-test Go file of the root
// module (nested modules, which have their own go.mod, are skipped) and
// fails on each exported name without a doc comment: functions, methods
// of exported types, types, struct fields and interface methods of
// exported types, and constants and variables (a doc comment on their
// group covers the group, as go doc shows it). A line comment after a
// field or constant counts as its doc.
func TestExportedNamesDocumented(t *testing.T) {
	missing, err := undocumented(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missing {
		t.Errorf("%s: no doc comment", m)
	}
	if len(missing) > 0 {
		t.Logf("%d undocumented exported names", len(missing))
	}
}

// TestCheckerFindsGaps runs the checker over a tiny module with one gap
// of each kind, so that the test above cannot pass by finding nothing.
func TestCheckerFindsGaps(t *testing.T) {
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
	write("go.mod", "module example.com/m\n")
	write("p/p.go", `// Package p is a fixture.
package p

func F() {}

// G is documented.
func G() {}

type T struct {
	// A is documented.
	A int
	B int // B is documented by a line comment.
	C int
	d int
}

func (T) M() {}

func (t *T) n() {}

const K = 1

// Group of documented constants.
const (
	K1 = 1
	K2 = 2
)

var V = 1

type I interface {
	Do()
}

type hidden struct{ X int }

func (hidden) Y() {}
`)
	write("p/p_test.go", "package p\n\nfunc TestHelper() {}\n")
	write("nested/go.mod", "module example.com/m/nested\n")
	write("nested/n.go", "package nested\n\nfunc Skipped() {}\n")
	got, err := undocumented(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"p/p.go: func F", "p/p.go: type T", "p/p.go: field T.C", "p/p.go: method T.M",
		"p/p.go: const K", "p/p.go: var V", "p/p.go: type I", "p/p.go: method I.Do"}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// undocumented lists "file: kind Name" for each undocumented exported
// name under root, sorted.
func undocumented(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // a nested module
				}
				if n := d.Name(); n == "testdata" || strings.HasPrefix(n, ".") {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, name := range fileGaps(f) {
			out = append(out, filepath.ToSlash(rel)+": "+name)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func fileGaps(f *ast.File) []string {
	var gaps []string
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			if d.Recv == nil {
				if d.Doc == nil {
					gaps = append(gaps, "func "+d.Name.Name)
				}
				continue
			}
			recv := receiverName(d.Recv.List[0].Type)
			if ast.IsExported(recv) && d.Doc == nil {
				gaps = append(gaps, "method "+recv+"."+d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					if s.Doc == nil && (d.Doc == nil || d.Lparen.IsValid()) {
						gaps = append(gaps, "type "+s.Name.Name)
					}
					gaps = append(gaps, memberGaps(s)...)
				case *ast.ValueSpec:
					kind := "var"
					if d.Tok == token.CONST {
						kind = "const"
					}
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
							gaps = append(gaps, kind+" "+n.Name)
						}
					}
				}
			}
		}
	}
	return gaps
}

// memberGaps lists the undocumented exported fields of an exported struct
// type and methods of an exported interface type.
func memberGaps(s *ast.TypeSpec) []string {
	var gaps []string
	var fields *ast.FieldList
	kind := "field "
	switch t := s.Type.(type) {
	case *ast.StructType:
		fields = t.Fields
	case *ast.InterfaceType:
		fields, kind = t.Methods, "method "
	default:
		return nil
	}
	for _, fl := range fields.List {
		if fl.Doc != nil || fl.Comment != nil {
			continue
		}
		for _, n := range fl.Names {
			if n.IsExported() {
				gaps = append(gaps, kind+s.Name.Name+"."+n.Name)
			}
		}
	}
	return gaps
}

func receiverName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return receiverName(t.X)
	case *ast.IndexExpr:
		return receiverName(t.X)
	case *ast.IndexListExpr:
		return receiverName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return ""
}
