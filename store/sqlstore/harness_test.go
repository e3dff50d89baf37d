package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/cypaykit/kit/internal/skipnote"
	"github.com/cypaykit/kit/internal/testtables"
	"github.com/cypaykit/kit/store/sqlstore"
)

// probeTimeout bounds the check that a test service answers. It is
// generous because a loaded machine can take seconds to accept a
// connection (3 s was missed under load); a service that is not running
// refuses at once.
const probeTimeout = 30 * time.Second

const (
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQL    = "root@tcp(127.0.0.1:3306)/test?parseTime=true"
)

// target is one database the tests run against.
type target struct {
	name    string
	dialect sqlstore.Dialect
	driver  string
	// newDSN returns the address of an empty database (SQLite) or of the
	// shared test database (servers), skipping when there is none.
	newDSN func(t testing.TB) string
	// shared says two handles opened on one DSN see the same data, as two
	// processes would; an in-memory SQLite database lives inside this
	// process and is treated as having one handle.
	shared bool
	// server says the database is a separate process that a test can cut
	// a session of (pg_terminate_backend, KILL).
	server bool
}

var targets = []target{
	{name: "sqlite-file", dialect: sqlstore.SQLite, driver: "sqlite", shared: true, newDSN: sqliteFileDSN},
	{name: "sqlite-memory", dialect: sqlstore.SQLite, driver: "sqlite", newDSN: sqliteMemoryDSN},
	{name: "postgres", dialect: sqlstore.Postgres, driver: "pgx", shared: true, server: true,
		newDSN: serverDSN("pgx", "CYPAY_TEST_POSTGRES", defaultPostgres)},
	{name: "mysql", dialect: sqlstore.MySQL, driver: "mysql", shared: true, server: true,
		newDSN: serverDSN("mysql", "CYPAY_TEST_MYSQL", defaultMySQL)},
}

// sqlitePragmas give concurrent writers a busy timeout instead of an
// immediate SQLITE_BUSY, and let readers run beside a writer.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"

func sqliteFileDSN(t testing.TB) string {
	t.Helper()
	return "file:" + filepath.Join(t.TempDir(), "orders.db") + "?" + sqlitePragmas
}

func sqliteMemoryDSN(t testing.TB) string {
	t.Helper()
	return "file:" + randomHex(t, 8) + "?mode=memory&cache=shared&" + sqlitePragmas
}

// serverDSN reads the server's address from env (or the default) and
// skips when the server does not answer, failing instead under CI=true,
// where a missing service must not pass as a skipped suite.
func serverDSN(driver, env, def string) func(t testing.TB) string {
	return func(t testing.TB) string {
		t.Helper()
		dsn := os.Getenv(env)
		if dsn == "" {
			dsn = def
		}
		db, err := sql.Open(driver, dsn)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
			err = db.PingContext(ctx)
			cancel()
			db.Close()
		}
		if err != nil {
			msg := fmt.Sprintf("%s unreachable (set %s): %v", driver, env, err)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			skipnote.Note(env)
			t.Skip(msg)
		}
		return dsn
	}
}

// open returns a new handle on dsn, closed when t ends.
func (tg target) open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(tg.driver, dsn)
	if err != nil {
		t.Fatalf("sql.Open(%s): %v", tg.driver, err)
	}
	t.Cleanup(func() { db.Close() })
	if !tg.shared {
		// An in-memory database (shared cache) lives as long as one of its
		// connections. database/sql drops a connection whose context ended
		// mid-statement, so the pool's own connection cannot be the one
		// that keeps it: pin a second connection, never used, for the
		// whole test. The pool then has one working connection, so
		// statements never meet the shared cache's table locks.
		db.SetMaxOpenConns(2)
		pin, err := db.Conn(context.Background())
		if err != nil {
			t.Fatalf("pin the in-memory database: %v", err)
		}
		t.Cleanup(func() { pin.Close() })
	}
	return db
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newPrefix returns a table prefix no other test uses, and drops its
// tables when t ends, so a shared server database stays clean.
func newPrefix(t testing.TB, tg target, db *sql.DB) string {
	t.Helper()
	prefix := "t" + randomHex(t, 6) + "_"
	t.Cleanup(func() { dropPrefix(t, tg.dialect, db, prefix) })
	return prefix
}

// dropPrefix drops every table whose name starts with prefix, as the
// database's catalogue lists them (internal/testtables).
func dropPrefix(t testing.TB, d sqlstore.Dialect, db *sql.DB, prefix string) {
	t.Helper()
	testtables.DropT(t, db, string(d), prefix)
}

// prefixTables lists the tables whose name starts with prefix.
func prefixTables(ctx context.Context, d sqlstore.Dialect, db *sql.DB, prefix string) ([]string, error) {
	return testtables.List(ctx, db, string(d), prefix)
}

// newStore returns a migrated store on db under a fresh prefix.
func newStore(t testing.TB, tg target, db *sql.DB) *sqlstore.Store {
	t.Helper()
	s, _ := newStorePrefix(t, tg, db)
	return s
}

// newStorePrefix is newStore that also returns the prefix.
func newStorePrefix(t testing.TB, tg target, db *sql.DB) (*sqlstore.Store, string) {
	t.Helper()
	return newStoreSkew(t, tg, db, 0)
}

// newStoreSkew is newStorePrefix with Config.ClockSkew skew (zero: the
// default).
func newStoreSkew(t testing.TB, tg target, db *sql.DB, skew time.Duration) (*sqlstore.Store, string) {
	t.Helper()
	prefix := newPrefix(t, tg, db)
	s, err := sqlstore.New(db, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix, ClockSkew: skew})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s, prefix
}

// forEachTarget runs fn as a subtest per target, with that target's
// database handle.
func forEachTarget(t *testing.T, fn func(t *testing.T, tg target, dsn string, db *sql.DB)) {
	forTargets(t, targets, fn)
}

// forTargets is forEachTarget over tgs.
func forTargets(t *testing.T, tgs []target, fn func(t *testing.T, tg target, dsn string, db *sql.DB)) {
	for _, tg := range tgs {
		t.Run(tg.name, func(t *testing.T) {
			dsn := tg.newDSN(t)
			fn(t, tg, dsn, tg.open(t, dsn))
		})
	}
}

// TestMemoryTargetOutlivesDroppedConnection: database/sql discards a
// connection whose statement was cut off (a context ending mid-query, a
// bad-connection error); the in-memory target's tables must survive it,
// or a test that cancels a query loses its database ("no such table").
func TestMemoryTargetOutlivesDroppedConnection(t *testing.T) {
	tg := targets[1]
	if tg.name != "sqlite-memory" {
		t.Fatalf("targets[1] is %q, want sqlite-memory", tg.name)
	}
	db := tg.open(t, tg.newDSN(t))
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE kept (id INTEGER)"); err != nil {
		t.Fatal(err)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A connection that reports ErrBadConn is closed, not pooled.
	if err := c.Raw(func(any) error { return driver.ErrBadConn }); !errors.Is(err, driver.ErrBadConn) {
		t.Fatalf("Raw: got %v, want ErrBadConn", err)
	}
	c.Close()
	if _, err := db.ExecContext(ctx, "INSERT INTO kept (id) VALUES (1)"); err != nil {
		t.Fatalf("after the pool dropped its connection: %v", err)
	}
}

// TestPrefixDropsEveryTable: when a test that made a store ends, none of
// its tables is left on the database, whichever migration created them.
func TestPrefixDropsEveryTable(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		var prefix string
		t.Run("store", func(t *testing.T) {
			_, prefix = newStorePrefix(t, tg, db) // every migration's tables
		})
		var left []string
		q := map[sqlstore.Dialect]string{
			sqlstore.Postgres: "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
			sqlstore.MySQL:    "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
			sqlstore.SQLite:   "SELECT name FROM sqlite_master WHERE type = 'table'",
		}[tg.dialect]
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(name, prefix) {
				left = append(left, name)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Errorf("tables of %s left after the test: %v", prefix, left)
		}
	})
}

// TestDropPrefixTakesEveryTableAndNoOther: the clean-up every test here
// (and e2e's, and the demo shop's) relies on drops every table a migrated
// store made under its prefix, including those later migrations added,
// and not a table whose name differs from the prefix only where LIKE
// reads "_" as any character.
func TestDropPrefixTakesEveryTableAndNoOther(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, _ string, db *sql.DB) {
		ctx := context.Background()
		prefix := "t" + randomHex(t, 6) + "_"
		s, err := sqlstore.New(db, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		near := strings.TrimSuffix(prefix, "_") + "x" + "kept"
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+near+" (id INTEGER)"); err != nil {
			t.Fatal(err)
		}
		defer db.ExecContext(ctx, "DROP TABLE IF EXISTS "+near)
		made, err := prefixTables(ctx, tg.dialect, db, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(made) < 10 {
			t.Fatalf("%d tables under %s after Migrate: %v; want every table of the schema", len(made), prefix, made)
		}
		dropPrefix(t, tg.dialect, db, prefix)
		if left, err := prefixTables(ctx, tg.dialect, db, prefix); err != nil || len(left) != 0 {
			t.Errorf("after the drop: %v, %v; want no table under %s", left, err, prefix)
		}
		if near, err := prefixTables(ctx, tg.dialect, db, strings.TrimSuffix(prefix, "_")+"x"); err != nil || len(near) != 1 {
			t.Errorf("the table beside the prefix: %v, %v; want it kept", near, err)
		}
	})
}
