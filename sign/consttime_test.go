package sign_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cypaykit/kit/sign"
)

// The protocol accepts a sign in either letter case (docs/protocol.md section
// 2.1 step 8: the gateway compares OrdinalIgnoreCase and its own tool
// sends lower case), so strings.EqualFold over the hex would accept
// exactly the signs the constant-time comparison accepts: no input tells
// them apart, only timing does, and tests never assert time. These tests
// instead pin the two things that make the comparison constant-time: the
// received sign reaches nothing but equalHexFold (and a length check, which
// gives nothing secret away), and equalHexFold has no branch or early exit
// in its loop. Each catches a rewrite to EqualFold, ==, bytes.Equal or
// hex-decoding-then-compare.

// parseSign parses the package's non-test sources.
func parseSign(t *testing.T) (*token.FileSet, []*ast.File) {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		src, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, n, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return fset, files
}

func findFunc(files []*ast.File, name string) *ast.FuncDecl {
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name {
				return fd
			}
		}
	}
	return nil
}

// TestNoVariableTimeComparison: no comparison function that stops at the
// first difference is called anywhere in the package.
func TestNoVariableTimeComparison(t *testing.T) {
	fset, files := parseSign(t)
	banned := map[string]bool{"EqualFold": true, "Compare": true, "Equal": true, "HasPrefix": true}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && (x.Name == "strings" || x.Name == "bytes") && banned[sel.Sel.Name] {
				t.Errorf("%s: %s.%s in package sign: signs are compared in constant time by equalHexFold only",
					fset.Position(sel.Pos()), x.Name, sel.Sel.Name)
			}
			return true
		})
	}
}

// TestReceivedSignOnlyReachesEqualHexFold: inside the verify method the
// received sign (got) is only measured, tested for emptiness, or passed to
// equalHexFold.
func TestReceivedSignOnlyReachesEqualHexFold(t *testing.T) {
	fset, files := parseSign(t)
	fd := findFunc(files, "verify")
	if fd == nil {
		t.Fatal("no verify method in package sign")
	}
	allowed := map[ast.Node]bool{}
	compared := false
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if fn, ok := n.Fun.(*ast.Ident); ok {
				for _, a := range n.Args {
					if id, ok := a.(*ast.Ident); ok && id.Name == "got" && (fn.Name == "len" || fn.Name == "equalHexFold") {
						allowed[id] = true
						compared = compared || fn.Name == "equalHexFold"
					}
				}
			}
		case *ast.BinaryExpr:
			if id, ok := n.X.(*ast.Ident); ok && id.Name == "got" && n.Op == token.EQL {
				if lit, ok := n.Y.(*ast.BasicLit); ok && lit.Value == `""` {
					allowed[id] = true
				}
			}
		}
		return true
	})
	if !compared {
		t.Error("verify never passes the received sign to equalHexFold")
	}
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == "got" && !allowed[id] {
			t.Errorf("%s: the received sign is used outside equalHexFold and len", fset.Position(id.Pos()))
		}
		return true
	})
}

// TestEqualHexFoldHasNoEarlyExit: the comparison loop neither branches nor
// returns, so its time does not depend on where the first difference is.
func TestEqualHexFoldHasNoEarlyExit(t *testing.T) {
	fset, files := parseSign(t)
	fd := findFunc(files, "equalHexFold")
	if fd == nil {
		t.Fatal("no equalHexFold in package sign")
	}
	loops := 0
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		loop, ok := n.(*ast.ForStmt)
		if !ok {
			return true
		}
		loops++
		ast.Inspect(loop.Body, func(m ast.Node) bool {
			switch m := m.(type) {
			case *ast.IfStmt, *ast.SwitchStmt, *ast.ReturnStmt, *ast.BranchStmt:
				t.Errorf("%s: %T in equalHexFold's loop", fset.Position(m.Pos()), m)
			case *ast.CallExpr:
				// Only integer conversions: a call could hide a branch.
				if fn, ok := m.Fun.(*ast.Ident); !ok || (fn.Name != "uint64" && fn.Name != "uint32" && fn.Name != "byte") {
					t.Errorf("%s: a call in equalHexFold's loop", fset.Position(m.Pos()))
				}
			case *ast.BinaryExpr:
				if m.Op == token.EQL || m.Op == token.NEQ || m.Op == token.LAND || m.Op == token.LOR {
					t.Errorf("%s: %s in equalHexFold's loop", fset.Position(m.Pos()), m.Op)
				}
			}
			return true
		})
		return false
	})
	if loops == 0 {
		t.Error("equalHexFold has no loop")
	}
}

// TestVerifyAllocatesNothing: verifying a notification allocates nothing,
// which also rules out building the expected sign as a string to compare.
func TestVerifyAllocatesNothing(t *testing.T) {
	vec := vectorNamed(t, "notify-wechat")
	v := toValues(withSign(vec.Params, vec.Sign["MD5"]))
	n := testing.AllocsPerRun(200, func() {
		if _, err := sign.VerifyIndex(v, sign.MD5, "wrong-key-0000000000000000000000", vec.Key); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("VerifyIndex allocates %v times per call, want 0", n)
	}
}

// TestVerifyIndexSaysWhichKey: the index is the key that verified, so a
// caller with keys of different parties knows who signed.
func TestVerifyIndexSaysWhichKey(t *testing.T) {
	vec := vectorNamed(t, "notify-wechat")
	v := toValues(withSign(vec.Params, vec.Sign["MD5"]))
	for _, tc := range []struct {
		keys []string
		want int
	}{
		{[]string{vec.Key}, 0},
		{[]string{"a", vec.Key}, 1},
		{[]string{"a", "", "b", vec.Key}, 3},
		{[]string{"a", "b"}, -1},
	} {
		got, err := sign.VerifyIndex(v, sign.MD5, tc.keys...)
		if got != tc.want || (err == nil) != (tc.want >= 0) {
			t.Errorf("VerifyIndex with %d keys: got %d, %v; want %d", len(tc.keys), got, err, tc.want)
		}
	}
}
