package sqlopen_test

import (
	"strings"
	"testing"

	"github.com/cypaykit/kit/store/sqlstore"
	"github.com/cypaykit/kit/store/sqlstore/sqlopen"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		dialect sqlstore.Dialect
		driver  string
		dsn     string
		path    string
	}{
		{"sqlite:shop.db", sqlstore.SQLite, "sqlite", "file:shop.db?_pragma=busy_timeout%285000%29&_pragma=journal_mode%28WAL%29", "shop.db"},
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", sqlstore.Postgres, "pgx", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", ""},
		{"postgresql://db/shop", sqlstore.Postgres, "pgx", "postgresql://db/shop", ""},
		{"mysql://root@127.0.0.1:3306/test", sqlstore.MySQL, "mysql", "root@tcp(127.0.0.1:3306)/test?parseTime=true", ""},
		{"mysql://u:p%40ss@db:3306/shop?tls=true", sqlstore.MySQL, "mysql", "u:p@ss@tcp(db:3306)/shop?parseTime=true&tls=true", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := sqlopen.Parse(tt.in)
			if err != nil || got.Dialect != tt.dialect || got.Driver != tt.driver || got.DSN != tt.dsn || got.Path != tt.path {
				t.Errorf("Parse(%q): got %+v, %v; want %s %s %q %q", tt.in, got, err, tt.dialect, tt.driver, tt.dsn, tt.path)
			}
		})
	}
}

// TestParseRefuses: what is not a database URL is refused, and the
// refusal never shows the password.
func TestParseRefuses(t *testing.T) {
	for _, in := range []string{"", "sqlite:", "shop.db", "memory", "mysql://u:secret@/nodb", "redis://u:secret@host/0"} {
		_, err := sqlopen.Parse(in)
		if err == nil {
			t.Errorf("Parse(%q): no error", in)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("Parse(%q): error shows the password: %v", in, err)
		}
	}
	got, err := sqlopen.Parse("postgres://u:secret@db/shop")
	if err != nil || strings.Contains(got.String(), "secret") || !strings.Contains(got.String(), "db/shop") {
		t.Errorf("String: %q, %v; want the URL without its password", got.String(), err)
	}
}

// TestPoolBounded: the PostgreSQL and MySQL pools are bounded, so a
// burst of notifications queues for connections instead of exhausting
// the server's (issue 8.8). SQLite keeps its single connection.
func TestPoolBounded(t *testing.T) {
	for _, tc := range []struct {
		name, db string
		want     int
	}{
		{"postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", sqlopen.MaxOpenConns},
		{"mysql", "mysql://root@127.0.0.1:3306/test", sqlopen.MaxOpenConns},
		{"sqlite", "sqlite:" + t.TempDir() + "/pool.db", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, err := sqlopen.Parse(tc.db)
			if err != nil {
				t.Fatal(err)
			}
			db, err := target.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := db.Stats().MaxOpenConnections; got != tc.want || got <= 0 {
				t.Errorf("MaxOpenConnections: got %d, want %d", got, tc.want)
			}
		})
	}
}
