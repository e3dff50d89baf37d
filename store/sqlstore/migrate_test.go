package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/store/sqlstore"
)

func TestNew(t *testing.T) {
	db, err := sql.Open("sqlite", sqliteMemoryDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tests := []struct {
		name string
		db   *sql.DB
		cfg  sqlstore.Config
		want error
	}{
		{"default prefix", db, sqlstore.Config{Dialect: sqlstore.SQLite}, nil},
		{"postgres", db, sqlstore.Config{Dialect: sqlstore.Postgres, TablePrefix: "pay_"}, nil},
		{"mysql", db, sqlstore.Config{Dialect: sqlstore.MySQL, TablePrefix: "_x9"}, nil},
		{"nil db", nil, sqlstore.Config{Dialect: sqlstore.SQLite}, sqlstore.ErrNoDB},
		{"no dialect", db, sqlstore.Config{}, sqlstore.ErrDialect},
		{"unknown dialect", db, sqlstore.Config{Dialect: "oracle"}, sqlstore.ErrDialect},
		{"upper case", db, sqlstore.Config{Dialect: sqlstore.SQLite, TablePrefix: "Pay_"}, sqlstore.ErrPrefix},
		{"leading digit", db, sqlstore.Config{Dialect: sqlstore.SQLite, TablePrefix: "1pay_"}, sqlstore.ErrPrefix},
		{"injection", db, sqlstore.Config{Dialect: sqlstore.SQLite, TablePrefix: "x; DROP TABLE y; --"}, sqlstore.ErrPrefix},
		{"too long", db, sqlstore.Config{Dialect: sqlstore.SQLite, TablePrefix: strings.Repeat("a", 33)}, sqlstore.ErrPrefix},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlstore.New(tc.db, tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("New: got error %v, want %v", err, tc.want)
			}
			if (s == nil) == (tc.want == nil) {
				t.Fatalf("New: got store %v with error %v", s, err)
			}
		})
	}
}

func TestSchema(t *testing.T) {
	for _, d := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres, sqlstore.MySQL} {
		t.Run(string(d), func(t *testing.T) {
			got := sqlstore.Schema(d, "")
			for _, want := range []string{
				"CREATE TABLE IF NOT EXISTS cypay_orders",
				"CREATE TABLE IF NOT EXISTS cypay_schema_version",
				"amount BIGINT NOT NULL",
				"(business_id, attempt)",
				"(status, created_at)",
				fmt.Sprintf("VALUES (%d, 0)", sqlstore.LatestVersion()),
			} {
				if d == sqlstore.SQLite && want == "amount BIGINT NOT NULL" {
					want = "amount INTEGER NOT NULL" // SQLite's 64-bit integer
				}
				if !strings.Contains(got, want) {
					t.Errorf("Schema(%s) lacks %q:\n%s", d, want, got)
				}
			}
			if strings.Contains(got, "?") || strings.Contains(got, "$1") {
				t.Errorf("Schema(%s) has placeholders:\n%s", d, got)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		dialect sqlstore.Dialect
		prefix  string
	}{
		{"bad prefix", sqlstore.SQLite, "a b"},
		{"bad dialect", "db2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Schema(%q, %q): got no panic, want one", tc.dialect, tc.prefix)
				}
			}()
			sqlstore.Schema(tc.dialect, tc.prefix)
		})
	}
}

// versions returns the recorded schema versions under prefix.
func versions(t testing.TB, db *sql.DB, prefix string) []int {
	t.Helper()
	rows, err := db.Query("SELECT version FROM " + prefix + "schema_version ORDER BY version")
	if err != nil {
		t.Fatalf("read %sschema_version: %v", prefix, err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func allVersions() []int { return sqlstore.MigrationVersions() }

func TestMigrateTwice(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		prefix := newPrefix(t, tg, db)
		s, err := sqlstore.New(db, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := 1; i <= 2; i++ {
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate #%d: got %v, want nil", i, err)
			}
		}
		create(t, s, order("BIZM", 1))
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate on a store with data: %v", err)
		}
		get(t, s, order("BIZM", 1).OutTradeNo)
		if diff := cmp.Diff(allVersions(), versions(t, db, prefix)); diff != "" {
			t.Errorf("schema_version (-want +got):\n%s", diff)
		}
	})
}

// TestMigrateConcurrent starts several migrators at once on one prefix,
// each on its own *sql.DB where the database allows (as separate
// processes would be): all succeed and each version is recorded once.
func TestMigrateConcurrent(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		prefix := newPrefix(t, tg, db)
		const n = 4
		stores := make([]*sqlstore.Store, n)
		for i := range stores {
			h := db
			if tg.shared {
				h = tg.open(t, dsn)
			}
			s, err := sqlstore.New(h, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			stores[i] = s
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Migrate(context.Background())
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate #%d: got %v, want nil", i, err)
			}
		}
		if diff := cmp.Diff(allVersions(), versions(t, db, prefix)); diff != "" {
			t.Errorf("schema_version (-want +got):\n%s", diff)
		}
		create(t, stores[0], order("BIZC", 1))
		get(t, stores[n-1], order("BIZC", 1).OutTradeNo)
	})
}

// TestSchemaThenMigrate applies Schema as a team's own migration tool
// would, statement by statement, twice; Migrate then finds nothing to do.
func TestSchemaThenMigrate(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		prefix := newPrefix(t, tg, db)
		script := sqlstore.Schema(tg.dialect, prefix)
		for run := 1; run <= 2; run++ {
			for _, stmt := range strings.Split(script, ";\n") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := db.Exec(stmt); err != nil {
					t.Fatalf("run %d: %v\n%s", run, err, stmt)
				}
			}
		}
		s, err := sqlstore.New(db, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("Migrate after Schema: %v", err)
		}
		if diff := cmp.Diff(allVersions(), versions(t, db, prefix)); diff != "" {
			t.Errorf("schema_version (-want +got):\n%s", diff)
		}
		create(t, s, order("BIZS", 1))
	})
}

// busyConnector is a SQLite connector whose first busy connections fail
// as a fresh WAL file's pragmas can when other connections open it at the
// same time: SQLITE_BUSY at once, without the busy handler.
type busyConnector struct {
	drv   driver.Driver
	dsn   string
	busy  int
	other error // when set, every connect fails with it instead
	tries atomic.Int32
}

func (c *busyConnector) Connect(context.Context) (driver.Conn, error) {
	if c.other != nil {
		c.tries.Add(1)
		return nil, c.other
	}
	if int(c.tries.Add(1)) <= c.busy {
		return nil, errors.New("database is locked (5) (SQLITE_BUSY)")
	}
	return c.drv.Open(c.dsn)
}

func (c *busyConnector) Driver() driver.Driver { return c.drv }

// TestMigrateRetriesBusyConnect: Migrate on SQLite tries the connection
// again when opening it answers SQLITE_BUSY (TestMigrateConcurrent's
// sqlite-file target failed so in 5 of 300 runs), and gives up on other
// errors at once.
func TestMigrateRetriesBusyConnect(t *testing.T) {
	dsn := sqliteFileDSN(t)
	probe, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	drv := probe.Driver()
	probe.Close()
	c := &busyConnector{drv: drv, dsn: dsn, busy: 3}
	db := sql.OpenDB(c)
	defer db.Close()
	s, err := sqlstore.New(db, sqlstore.Config{Dialect: sqlstore.SQLite})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after %d busy connects: %v, want nil", c.busy, err)
	}
	if got := c.tries.Load(); got != 4 {
		t.Errorf("connects: %d, want 4 (3 busy, then one that works)", got)
	}
	create(t, s, order("BUSY", 1))

	other := &busyConnector{drv: drv, dsn: dsn, other: errors.New("unable to open database file (14) (SQLITE_CANTOPEN)")}
	odb := sql.OpenDB(other)
	defer odb.Close()
	os2, err := sqlstore.New(odb, sqlstore.Config{Dialect: sqlstore.SQLite})
	if err != nil {
		t.Fatal(err)
	}
	if err := os2.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "SQLITE_CANTOPEN") {
		t.Errorf("Migrate when connecting fails otherwise: %v, want the SQLITE_CANTOPEN error", err)
	}
	// database/sql itself tries a connect again on driver.ErrBadConn only;
	// Migrate adds no tries for an error that is not SQLITE_BUSY.
	if got := other.tries.Load(); got != 1 {
		t.Errorf("connects after a non-busy error: %d, want 1", got)
	}
}
