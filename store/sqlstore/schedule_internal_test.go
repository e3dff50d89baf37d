package sqlstore

import "testing"

// TestParseServer: the MySQL dialect's engines are told apart by their
// VERSION(); SKIP LOCKED is used from MySQL 8 and MariaDB 10.6, never on
// TiDB (which accepts it and takes no lock) nor OceanBase; older servers,
// and versions that cannot be read, get a plain FOR UPDATE.
func TestParseServer(t *testing.T) {
	tests := []struct {
		version     string
		engine      Engine
		skip, distr bool
	}{
		{"8.0.36", EngineMySQL, true, false},
		{"8.4.0-commercial", EngineMySQL, true, false},
		{"5.7.44-log", EngineMySQL, false, false},
		{"10.11.19-MariaDB-0+deb12u1", EngineMariaDB, true, false},
		{"10.6.0-MariaDB", EngineMariaDB, true, false},
		{"10.5.23-MariaDB-0+deb11u1", EngineMariaDB, false, false},
		{"11.4.2-MariaDB", EngineMariaDB, true, false},
		{"8.0.11-TiDB-v8.5.6", EngineTiDB, false, true},
		{"5.7.25-TiDB-v6.5.0", EngineTiDB, false, true},
		{"5.7.25-OceanBase-v4.2.1.0", EngineOceanBase, false, true},
		{"5.7.25-OceanBase_CE-v4.3.5.0", EngineOceanBase, false, true},
		{"garbage", EngineMySQL, false, false},
		{"", EngineMySQL, false, false},
	}
	for _, tc := range tests {
		sv := parseServer(MySQL, tc.version)
		if sv.Engine != tc.engine || sv.SkipLocked() != tc.skip || sv.Distributed() != tc.distr {
			t.Errorf("parseServer(%q): got %s, SkipLocked %v, Distributed %v; want %s, %v, %v",
				tc.version, sv.Engine, sv.SkipLocked(), sv.Distributed(), tc.engine, tc.skip, tc.distr)
		}
	}
	if sv := parseServer(Postgres, "PostgreSQL 16.4 on x86_64"); sv.Engine != EnginePostgres || !sv.SkipLocked() {
		t.Errorf("parseServer(postgres): got %+v", sv)
	}
}
