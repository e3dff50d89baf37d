package readme

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// markdownLink is an inline link or image target: ](target).
var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// codeFence and inlineCode are left out before links are read: a link
// inside code is an example, not a reference.
var (
	codeFence  = regexp.MustCompile("(?s)```.*?```")
	inlineCode = regexp.MustCompile("`[^`\n]*`")
)

// markdownFiles lists every .md file under dir, skipping hidden
// directories and testdata.
func markdownFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// anchors returns the fragment names GitHub gives the headings of a
// Markdown file: lower case, punctuation dropped, spaces to hyphens, and
// "-1", "-2", … for repeats.
func anchors(t testing.TB, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := codeFence.ReplaceAllString(string(data), "")
	out := make(map[string]bool)
	seen := make(map[string]int)
	for _, line := range strings.Split(text, "\n") {
		h := strings.TrimLeft(line, "#")
		if h == line || !strings.HasPrefix(h, " ") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(h)) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// brokenLinks returns "file: target" for every relative link in the
// Markdown files under dir whose file does not exist, or whose #fragment
// names no heading of the Markdown file it points to.
func brokenLinks(t testing.TB, dir string) []string {
	t.Helper()
	var broken []string
	for _, file := range markdownFiles(t, dir) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := inlineCode.ReplaceAllString(codeFence.ReplaceAllString(string(data), ""), "")
		for _, m := range markdownLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, frag, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
			}
			rel, _ := filepath.Rel(dir, file)
			if _, err := os.Stat(dest); err != nil {
				broken = append(broken, rel+": "+target)
				continue
			}
			if frag != "" && strings.HasSuffix(dest, ".md") && !anchors(t, dest)[frag] {
				broken = append(broken, rel+": "+target+" (no such heading)")
			}
		}
	}
	return broken
}

// TestRelativeLinksResolve: every relative link in the repository's
// Markdown names a file in the repository, and a heading that exists.
func TestRelativeLinksResolve(t *testing.T) {
	for _, b := range brokenLinks(t, root) {
		t.Errorf("broken link in %s", b)
	}
}

// TestPackagesListed: docs/packages.md names every package directory of
// every module, so a new package cannot go unlisted.
func TestPackagesListed(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "docs", "packages.md"))
	if err != nil {
		t.Fatal(err)
	}
	named := make(map[string]bool)
	for _, m := range regexp.MustCompile("`([a-z0-9_./]+)`").FindAllStringSubmatch(string(data), -1) {
		named[m[1]] = true
	}
	for _, dir := range packageDirs(t, root) {
		if !named[dir] {
			t.Errorf("docs/packages.md does not name package %s", dir)
		}
	}
}

// packageDirs lists, slash-separated and relative to dir, every directory
// holding a .go file outside hidden directories and testdata.
func packageDirs(t testing.TB, dir string) []string {
	t.Helper()
	seen := make(map[string]bool)
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, err := filepath.Rel(dir, filepath.Dir(path))
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); rel != "." && !seen[rel] {
			seen[rel] = true
			dirs = append(dirs, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// TestLinkCheckerFindsBreaks proves the checks above can fail: a link to
// a missing file, a link to a missing heading, and an unlisted package.
func TestLinkCheckerFindsBreaks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "# Top\n\n## 术语表\n\n## Step 2. Go\n\n[a](docs/a.md) [b](docs/gone.md) [c](#术语表) [d](#step-2-go) [e](docs/a.md#nowhere) `[f](x.md)`\n")
	write("docs/a.md", "# A\n\n[up](../README.md#top) [web](https://example.com/x.md)\n")
	got := strings.Join(brokenLinks(t, dir), "\n")
	want := "README.md: docs/gone.md\nREADME.md: docs/a.md#nowhere (no such heading)"
	if got != want {
		t.Errorf("brokenLinks =\n%s\nwant\n%s", got, want)
	}

	write("pkg/sub/x.go", "package sub\n")
	write("pkg/sub/testdata/y.go", "package y\n")
	if got := strings.Join(packageDirs(t, dir), " "); got != "pkg/sub" {
		t.Errorf("packageDirs = %q, want %q", got, "pkg/sub")
	}
}
