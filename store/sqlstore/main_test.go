package sqlstore_test

import (
	"strings"
	"testing"

	"github.com/cypaykit/kit/internal/skipnote"
)

// TestMain prints one line per service whose tests skipped (skipnote).
func TestMain(m *testing.M) { skipnote.Main(m, "sqlstore") }

// TestSkipReported: a service test that skips for want of its server is
// named in the report TestMain prints, once, with the variable and an
// example value.
func TestSkipReported(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("CYPAY_TEST_POSTGRES", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5")
	if !skipnote.Noted("CYPAY_TEST_POSTGRES") {
		// This test's own skip is not news: forget it afterwards.
		t.Cleanup(func() { skipnote.Forget("CYPAY_TEST_POSTGRES") })
	}
	for range 2 {
		t.Run("probe", func(t *testing.T) {
			serverDSN("pgx", "CYPAY_TEST_POSTGRES", defaultPostgres)(t)
			t.Error("serverDSN returned on an unreachable server")
		})
	}
	want := "sqlstore: PostgreSQL tests skipped, not available: point CYPAY_TEST_POSTGRES at one, e.g. CYPAY_TEST_POSTGRES=" + defaultPostgres + "\n"
	if got := skipnote.Report("sqlstore"); strings.Count(got, want) != 1 {
		t.Errorf("skipnote.Report:\n%s\nwant the line once:\n%s", got, want)
	}
}
