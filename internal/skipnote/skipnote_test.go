package skipnote

import "testing"

// TestReport: each noted service is one line, however often it skipped,
// with its variable and an example value.
func TestReport(t *testing.T) {
	if got := Report("pkg"); got != "" {
		t.Fatalf("nothing noted: got %q", got)
	}
	Note("CYPAY_TEST_REDIS")
	Note("CYPAY_TEST_POSTGRES")
	Note("CYPAY_TEST_REDIS")
	t.Cleanup(func() { Forget("CYPAY_TEST_REDIS"); Forget("CYPAY_TEST_POSTGRES") })
	want := "pkg: PostgreSQL tests skipped, not available: point CYPAY_TEST_POSTGRES at one, e.g. CYPAY_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable\n" +
		"pkg: Redis tests skipped, not available: point CYPAY_TEST_REDIS at one, e.g. CYPAY_TEST_REDIS=127.0.0.1:6379\n"
	if got := Report("pkg"); got != want {
		t.Errorf("Report:\n%s\nwant:\n%s", got, want)
	}
}
