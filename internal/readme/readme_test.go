// Package readme keeps the READMEs honest: every Go code block is a copy
// of a region of a file that CI compiles (and, for the quick start, runs),
// and the English and Chinese READMEs carry the same code blocks. The
// rest of the Markdown is kept honest too: every relative link resolves
// to a file and heading in the repository, and docs/packages.md names
// every package.
package readme

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository root, relative to this package's directory.
const root = "../.."

var readmes = []string{"README.md", "README.zh-CN.md"}

// block is one fenced code block of a Markdown file.
type block struct {
	lang    string
	body    string
	snippet string // the "path#region" named by the comment before it
	line    int
}

var snippetComment = regexp.MustCompile(`^<!--\s*snippet:\s*(\S+#\S+)\s*-->$`)

func codeBlocks(t testing.TB, name string) []block {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	var (
		blocks  []block
		cur     *block
		body    strings.Builder
		pending string
		lineNo  int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{lang: strings.TrimSpace(strings.TrimPrefix(line, "```")), snippet: pending, line: lineNo}
			body.Reset()
			pending = ""
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.body = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		default:
			if m := snippetComment.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				pending = m[1]
			} else if strings.TrimSpace(line) != "" {
				pending = ""
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: code block never closed", name, cur.line)
	}
	return blocks
}

// region returns the lines between "// snippet:begin NAME" and
// "// snippet:end NAME" in a file, with the common leading tabs removed.
func region(path, name string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		return "", err
	}
	var lines []string
	in, found := false, false
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "// snippet:begin "+name:
			in, found = true, true
		case trimmed == "// snippet:end "+name:
			in = false
		case in:
			lines = append(lines, line)
		}
	}
	if !found {
		return "", fmt.Errorf("%s has no region %q", path, name)
	}
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if len(l) >= indent && indent > 0 {
			l = l[indent:]
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// TestGoBlocksAreCompiledSnippets: a Go block in a README is a region of a
// file that the build compiles, so a renamed field or a dropped error check
// cannot linger in the docs.
func TestGoBlocksAreCompiledSnippets(t *testing.T) {
	for _, name := range readmes {
		for _, b := range codeBlocks(t, name) {
			if b.lang != "go" {
				continue
			}
			if b.snippet == "" {
				t.Errorf("%s:%d: Go block without a <!-- snippet: path#region --> comment before it", name, b.line)
				continue
			}
			path, reg, _ := strings.Cut(b.snippet, "#")
			want, err := region(path, reg)
			if err != nil {
				t.Errorf("%s:%d: %v", name, b.line, err)
				continue
			}
			if b.body != want {
				t.Errorf("%s:%d: block differs from %s; copy the region again.\n--- README\n%s--- file\n%s", name, b.line, b.snippet, b.body, want)
			}
		}
	}
}

// TestTranslationsShareCodeBlocks: the Chinese README shows exactly the
// code of the English one, block for block.
func TestTranslationsShareCodeBlocks(t *testing.T) {
	en, zh := codeBlocks(t, readmes[0]), codeBlocks(t, readmes[1])
	if len(en) != len(zh) {
		t.Fatalf("README.md has %d code blocks, README.zh-CN.md %d", len(en), len(zh))
	}
	for i := range en {
		if en[i].lang != zh[i].lang || en[i].body != zh[i].body {
			t.Errorf("code block %d differs: README.md:%d vs README.zh-CN.md:%d", i+1, en[i].line, zh[i].line)
		}
	}
}

// TestSnippetParser proves the checks above can fail: a block that does
// not match its region, and a Go block without a snippet comment.
func TestSnippetParser(t *testing.T) {
	dir := t.TempDir()
	src := "package x\n\nfunc f() {\n\t// snippet:begin demo\n\tx := 1\n\t_ = x\n\t// snippet:end demo\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(absRoot, filepath.Join(dir, "x.go"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := region(rel, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if want := "x := 1\n_ = x\n"; got != want {
		t.Errorf("region = %q, want %q", got, want)
	}
	if _, err := region(rel, "missing"); err == nil {
		t.Error("a missing region was found")
	}
}
