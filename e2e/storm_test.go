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
	"github.com/cypaykit/kit/internal/skipnote"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/redisstore"
	"github.com/cypaykit/kit/store/sqlstore"
)

// probeTimeout bounds the check that a test service answers. It is
// generous because a loaded machine can take seconds to accept a
// connection (3 s was missed under load); a service that is not running
// refuses at once.
const probeTimeout = 30 * time.Second

// TestDuplicateStorm sends handlertest.StormSize copies of one notification
// through two handler instances that share a SQL store and a Redis locker:
// exactly one PENDING→PAID transition, one fulfilment, every reply success.
//
// The package's tests run side by side (t.Parallel): each has tables
// (a random prefix), Redis keys (a random prefix) and SQLite files of
// its own, and most of their time is spent waiting for commits, leases
// and hooks.
func TestDuplicateStorm(t *testing.T) {
	t.Parallel()
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
	return openStores(t, driver, d, dsn, 1)[0]
}

// openStores opens n stores on one database under one fresh prefix, each
// over its own *sql.DB, as n processes would.
func openStores(t *testing.T, driver string, d sqlstore.Dialect, dsn string, n int) []*sqlstore.Store {
	t.Helper()
	prefix := "e2e" + randomHex(t, 4) + "_"
	var stores []*sqlstore.Store
	for i := range n {
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatalf("sql.Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		// A bounded pool, as a production host would configure: a storm
		// must queue for connections, not exhaust the server's
		// (PostgreSQL allows 100 by default).
		db.SetMaxOpenConns(16)
		st, err := sqlstore.New(db, sqlstore.Config{Dialect: d, TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := st.Migrate(ctx); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			t.Cleanup(func() { dropPrefix(t, d, db, prefix) })
		}
		stores = append(stores, st)
	}
	return stores
}

// sqlTargets are the databases the SQL storms run on.
var sqlTargets = []struct {
	name    string
	driver  string
	dialect sqlstore.Dialect
	dsn     func(t *testing.T) string
}{
	{"postgres", "pgx", sqlstore.Postgres, serverDSN("pgx", "CYPAY_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")},
	{"mariadb", "mysql", sqlstore.MySQL, serverDSN("mysql", "CYPAY_TEST_MYSQL", "root@tcp(127.0.0.1:3306)/test?parseTime=true")},
	{"sqlite-file", "sqlite", sqlstore.SQLite, func(t *testing.T) string {
		return "file:" + filepath.Join(t.TempDir(), "storm.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	}},
	// Simulations of servers CI cannot run (see sim_test.go).
	{"tidb-sim", "sqlsim-tidb-storm", sqlstore.MySQL, serverDSN("mysql", "CYPAY_TEST_MYSQL", mysqlDefault)},
	{"oceanbase-sim", "sqlsim-oceanbase", sqlstore.MySQL, serverDSN("mysql", "CYPAY_TEST_MYSQL", mysqlDefault)},
}

// TestTwoInstancesNoLocker (issue 8.2) plays two app instances wired the
// simplest way, with the SQL store and no Locker, each over its own
// *sql.DB on one database: 20 orders × 30 concurrent copies split over
// both. The Store's own lease table keeps the hook to exactly one run per
// order; every copy is answered success, at the latest when sent again
// after a "fail" (as the gateway does).
//
// The targets run side by side (each on its own tables and handles): the
// storm's time is spent waiting for the databases and the 30 ms hooks.
func TestTwoInstancesNoLocker(t *testing.T) {
	t.Parallel()
	for _, tg := range sqlTargets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			ss := openStores(t, tg.driver, tg.dialect, tg.dsn(t), 2)
			res := handlertest.Storm{
				Stores: []store.OrderStore{ss[0], ss[1]},
				Orders: 20, Copies: 30, Hook: 30 * time.Millisecond, Resend: true,
			}.Run(t)
			res.RequireAnswered(t)
		})
	}
}

// TestStormSuccessRatio (issue 8.3) is the same storm under the gateway's
// real reply deadline (2 s): 20 orders × 30 copies over two instances,
// hook 30 ms, the SQL store's lease. It asserts exactly-once fulfilment
// and that every order ends fulfilled, and logs the share of copies
// answered success (run with -v). The baseline in the same run is the
// same lease without TryAcquire, so that every duplicate queues for the
// lease as all did before. The shares are a measurement of this machine,
// so they are reported, not asserted; BENCHMARKS.md has the figures,
// measured with the test run alone (-run TestStormSuccessRatio): in the
// package's run it goes beside the other tests (each test of this package
// has tables, key prefixes and files of its own), so its shares there
// are of a busier machine. Its variants still run one after another.
func TestStormSuccessRatio(t *testing.T) {
	t.Parallel()
	for _, tg := range sqlTargets[:2] {
		for _, variant := range []string{"try", "queue"} {
			t.Run(tg.name+"/"+variant, func(t *testing.T) {
				ss := openStores(t, tg.driver, tg.dialect, tg.dsn(t), 2)
				storm := handlertest.Storm{
					Stores: []store.OrderStore{ss[0], ss[1]},
					Orders: 20, Copies: 30, Hook: 30 * time.Millisecond, Deadline: 2 * time.Second,
				}
				if variant == "queue" {
					storm.Lockers = []store.Locker{queueing{ss[0]}, queueing{ss[1]}}
				}
				res := storm.Run(t)
				t.Logf("%s/%s: %d/%d success (%.1f%%), %d orders redelivered",
					tg.name, variant, res.Success, res.Replies, 100*res.Ratio(), res.Redelivered)
			})
		}
	}
}

// queueing hides TryAcquire, so that the Settler makes every duplicate
// wait in Acquire.
type queueing struct{ store.Extender }

func openLocker(t *testing.T) store.Locker {
	t.Helper()
	addr := os.Getenv("CYPAY_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		unavailable(t, "CYPAY_TEST_REDIS", fmt.Sprintf("redis unreachable at %s (set CYPAY_TEST_REDIS): %v", addr, err))
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
			ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
			err = db.PingContext(ctx)
			cancel()
			db.Close()
		}
		if err != nil {
			unavailable(t, env, fmt.Sprintf("%s unreachable (set %s): %v", driver, env, err))
		}
		return dsn
	}
}

// unavailable skips, except under CI=true, where a missing service must
// fail the run rather than pass as a skipped test. TestMain names the
// skipped service (env is its variable).
func unavailable(t *testing.T, env, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	skipnote.Note(env)
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
