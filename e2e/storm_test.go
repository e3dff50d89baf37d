package e2e_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite"

	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/redisstore"
	"github.com/cypaykit/kit/store/sqlstore"
)

// TestDuplicateStorm sends handlertest.StormSize copies of one notification
// through two handler instances that share a SQL store and a Redis locker:
// exactly one PENDING→PAID transition, one fulfilment, every reply success.
func TestDuplicateStorm(t *testing.T) {
	cases := []struct {
		name    string
		driver  string
		dialect sqlstore.Dialect
		dsn     func(t *testing.T) string
	}{
		{"postgres+redis", "pgx", sqlstore.Postgres, serverDSN("pgx", "CYPAY_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")},
		{"mariadb+redis", "mysql", sqlstore.MySQL, serverDSN("mysql", "CYPAY_TEST_MYSQL", "root@tcp(127.0.0.1:3306)/test?parseTime=true")},
		{"sqlite+redis", "sqlite", sqlstore.SQLite, func(t *testing.T) string {
			return "file:" + filepath.Join(t.TempDir(), "storm.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, tc.driver, tc.dialect, tc.dsn(t))
			lk := openLocker(t)
			handlertest.RunDuplicateStorm(t, st, lk)
		})
	}
}

func openStore(t *testing.T, driver string, d sqlstore.Dialect, dsn string) store.OrderStore {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	// A bounded pool, as a production host would configure: 200 copies
	// must queue for connections, not exhaust the server's (PostgreSQL
	// allows 100 by default).
	db.SetMaxOpenConns(16)
	prefix := "e2e" + randomHex(t, 4) + "_"
	st, err := sqlstore.New(db, sqlstore.Config{Dialect: d, TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() {
		for _, table := range []string{"orders", "leases", "schedule", "schema_version"} {
			db.Exec("DROP TABLE IF EXISTS " + prefix + table)
		}
	})
	return st
}

func openLocker(t *testing.T) store.Locker {
	t.Helper()
	addr := os.Getenv("CYPAY_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		unavailable(t, fmt.Sprintf("redis unreachable at %s (set CYPAY_TEST_REDIS): %v", addr, err))
	}
	lk, err := redisstore.New(rdb, redisstore.Config{KeyPrefix: "cypay:e2e:" + randomHex(t, 4) + ":"})
	if err != nil {
		t.Fatal(err)
	}
	return lk
}

func serverDSN(driver, env, def string) func(t *testing.T) string {
	return func(t *testing.T) string {
		t.Helper()
		dsn := os.Getenv(env)
		if dsn == "" {
			dsn = def
		}
		db, err := sql.Open(driver, dsn)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err = db.PingContext(ctx)
			cancel()
			db.Close()
		}
		if err != nil {
			unavailable(t, fmt.Sprintf("%s unreachable (set %s): %v", driver, env, err))
		}
		return dsn
	}
}

// unavailable skips, except under CI=true, where a missing service must
// fail the run rather than pass as a skipped test.
func unavailable(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
