// Package skipnote makes skipped service tests visible. go test shows a
// passing package's output only with -v, so a test that skips for want of
// PostgreSQL, MySQL, Redis or Chromium would pass unnoticed; the test
// binaries of the nested modules note each such skip and print one line
// per service from TestMain, with the variable to set and an example
// value. Under CI=true those tests fail instead, and nothing is noted.
package skipnote

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// services names the service of each variable the tests read, with a
// value that reaches a default local install (the tests' own default).
var services = map[string][2]string{
	"CYPAY_TEST_POSTGRES": {"PostgreSQL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"},
	"CYPAY_TEST_MYSQL":    {"MySQL/MariaDB", "root@tcp(127.0.0.1:3306)/test?parseTime=true"},
	"CYPAY_TEST_REDIS":    {"Redis", "127.0.0.1:6379"},
	"CYPAY_CHROMIUM":      {"Browser (Chromium)", "/usr/bin/chromium"},
}

// noted holds the variables of the services whose tests skipped.
var noted sync.Map

// Note records that a test skips because the service of variable env is
// not available. Call it just before t.Skip.
func Note(env string) { noted.Store(env, true) }

// Forget undoes Note, for a test that provokes a skip on purpose.
func Forget(env string) { noted.Delete(env) }

// Noted reports whether Note(env) was called.
func Noted(env string) bool {
	_, ok := noted.Load(env)
	return ok
}

// Main runs the tests, prints Report(pkg) and exits: a TestMain.
func Main(m *testing.M, pkg string) {
	code := m.Run()
	if report := Report(pkg); report != "" {
		// The terminal, where a developer running the README's command
		// sees it although go test hides a passing package's output;
		// without one (CI, a pipe), stderr.
		var w io.Writer = os.Stderr
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			defer tty.Close()
			w = tty
		}
		io.WriteString(w, report)
	}
	os.Exit(code)
}

// Report is one line per noted service, naming pkg, the variable and an
// example value; empty when nothing skipped.
func Report(pkg string) string {
	var lines []string
	noted.Range(func(k, _ any) bool {
		env := k.(string)
		s := services[env]
		lines = append(lines, fmt.Sprintf("%s: %s tests skipped, not available: point %s at one, e.g. %s=%s\n", pkg, s[0], env, env, s[1]))
		return true
	})
	sort.Strings(lines)
	return strings.Join(lines, "")
}
