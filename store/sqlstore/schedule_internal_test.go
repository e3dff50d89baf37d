package sqlstore

import "testing"

// TestMySQLSkipLocked: SKIP LOCKED is used from MySQL 8 and MariaDB 10.6;
// older servers, and versions that cannot be read, get a plain FOR UPDATE.
func TestMySQLSkipLocked(t *testing.T) {
	tests := []struct {
		version string
		want    bool
	}{
		{"8.0.36", true},
		{"8.4.0-commercial", true},
		{"5.7.44-log", false},
		{"10.11.19-MariaDB-0+deb12u1", true},
		{"10.6.0-MariaDB", true},
		{"10.5.23-MariaDB-0+deb11u1", false},
		{"11.4.2-MariaDB", true},
		{"garbage", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := mysqlSkipLocked(tc.version); got != tc.want {
			t.Errorf("mysqlSkipLocked(%q): got %v, want %v", tc.version, got, tc.want)
		}
	}
}
