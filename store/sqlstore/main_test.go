package sqlstore_test

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// skipped holds the variable of each service whose tests skipped because
// it was unreachable. go test shows a passing package's output only with
// -v, so TestMain says so itself, once per service.
var skipped sync.Map

// services names each variable's service and a value that reaches a
// default local install.
var services = map[string][2]string{
	"CYPAY_TEST_POSTGRES": {"PostgreSQL", defaultPostgres},
	"CYPAY_TEST_MYSQL":    {"MySQL/MariaDB", defaultMySQL},
}

func TestMain(m *testing.M) {
	code := m.Run()
	reportSkipped("sqlstore")
	os.Exit(code)
}

// reportSkipped writes skipReport to the terminal, where a developer
// running the README's command sees it although go test hides a passing
// package's output; without a terminal (CI, a pipe), to stderr.
func reportSkipped(pkg string) {
	report := skipReport(pkg)
	if report == "" {
		return
	}
	var w io.Writer = os.Stderr
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		w = tty
	}
	io.WriteString(w, report)
}

// skipReport is one line per skipped service: its variable and an
// example value.
func skipReport(pkg string) string {
	var lines []string
	skipped.Range(func(k, _ any) bool {
		env := k.(string)
		lines = append(lines, fmt.Sprintf("%s: %s tests skipped, not available: point %s at one, e.g. %s=%s\n", pkg, services[env][0], env, env, services[env][1]))
		return true
	})
	sort.Strings(lines)
	return strings.Join(lines, "")
}

// TestSkipReported: a service test that skips for want of its server is
// named in the report TestMain prints, once, with the variable and an
// example value.
func TestSkipReported(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("CYPAY_TEST_POSTGRES", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5")
	_, before := skipped.Load("CYPAY_TEST_POSTGRES")
	if !before {
		// This test's own skip is not news: forget it afterwards.
		t.Cleanup(func() { skipped.Delete("CYPAY_TEST_POSTGRES") })
	}
	for range 2 {
		t.Run("probe", func(t *testing.T) {
			serverDSN("pgx", "CYPAY_TEST_POSTGRES", defaultPostgres)(t)
			t.Error("serverDSN returned on an unreachable server")
		})
	}
	want := "sqlstore: PostgreSQL tests skipped, not available: point CYPAY_TEST_POSTGRES at one, e.g. CYPAY_TEST_POSTGRES=" + defaultPostgres + "\n"
	if got := skipReport("sqlstore"); strings.Count(got, want) != 1 {
		t.Errorf("skipReport:\n%s\nwant the line once:\n%s", got, want)
	}
}
