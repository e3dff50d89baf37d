package e2e_test

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
	"CYPAY_TEST_POSTGRES": {"PostgreSQL", pgDefault},
	"CYPAY_TEST_MYSQL":    {"MySQL/MariaDB", mysqlDefault},
	"CYPAY_TEST_REDIS":    {"Redis", "127.0.0.1:6379"},
}

func TestMain(m *testing.M) {
	code := m.Run()
	reportSkipped("e2e")
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
