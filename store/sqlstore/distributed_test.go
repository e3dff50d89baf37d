package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
	"github.com/cypaykit/kit/store/sqlstore/sqlsim"
)

// openSim opens a handle through a Driver of its own simulating engine
// on the test MariaDB or PostgreSQL, skipping when that server is absent.
func openSim(t *testing.T, d *sqlsim.Driver) (*sql.DB, target) {
	t.Helper()
	tg := simTargets[0]
	dsn := serverDSN("mysql", "CYPAY_TEST_MYSQL", defaultMySQL)(t)
	d.Base = &mysql.MySQLDriver{}
	if d.Engine == sqlsim.PostgresSerializable {
		tg = simTargets[2]
		dsn = serverDSN("pgx", "CYPAY_TEST_POSTGRES", defaultPostgres)(t)
		d.Base = stdlib.GetDefaultDriver()
	}
	db := sql.OpenDB(d.Connector(dsn))
	t.Cleanup(func() { db.Close() })
	return db, tg
}

// TestServerDetected: the Store tells the simulated TiDB and OceanBase
// from MySQL by their VERSION(), and sends neither SKIP LOCKED.
func TestServerDetected(t *testing.T) {
	for _, tc := range []struct {
		engine sqlsim.Engine
		want   sqlstore.Engine
	}{{sqlsim.TiDB, sqlstore.EngineTiDB}, {sqlsim.OceanBase, sqlstore.EngineOceanBase}} {
		db, _ := openSim(t, &sqlsim.Driver{Engine: tc.engine})
		s, err := sqlstore.New(db, sqlstore.Config{Dialect: sqlstore.MySQL})
		if err != nil {
			t.Fatal(err)
		}
		sv, err := s.Server(context.Background())
		if err != nil || sv.Engine != tc.want || sv.SkipLocked() || !sv.Distributed() {
			t.Errorf("Server: got %+v (SkipLocked %v), %v; want %s without SKIP LOCKED", sv, sv.SkipLocked(), err, tc.want)
		}
	}
}

// TestClaimStormTiDB: two instances, each with its own connection pool,
// claim 240 due attempts at once under the TiDB simulation, where a
// locking read locks nothing and one COMMIT in five fails with 9007.
// Every attempt goes to exactly one of them, so two instances make the
// same gateway queries as one. (With the claim's mark unconditional, as
// it was, 155 of 240 went to both.)
func TestClaimStormTiDB(t *testing.T) {
	const n, batch = 240, 20
	d := &sqlsim.Driver{Engine: sqlsim.TiDB, ConflictEvery: 5}
	db1, tg := openSim(t, d)
	first, prefix := newStorePrefix(t, tg, db1)
	db2 := sql.OpenDB(d.Connector(serverDSN("mysql", "CYPAY_TEST_MYSQL", defaultMySQL)(t)))
	t.Cleanup(func() { db2.Close() })
	second, err := sqlstore.New(db2, sqlstore.Config{Dialect: sqlstore.MySQL, TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		o := order(fmt.Sprintf("STORM%03d", i), 1)
		o.NextDue = t0.Add(time.Duration(i%7) * time.Second)
		create(t, first, o)
	}
	now := t0.Add(time.Minute)
	var (
		mu    sync.Mutex
		seen  = map[string][]int{}
		errs  []error
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i, s := range []*sqlstore.Store{first, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Bounded: a store handing attempts out for ever fails, not hangs.
			for range n {
				cs, err := s.Claim(context.Background(), store.ClaimRequest{Kind: store.KindQuery, Now: now, Lease: time.Minute, Limit: batch})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, c := range cs {
					seen[c.Key] = append(seen[c.Key], i)
				}
				mu.Unlock()
				if err != nil || len(cs) == 0 {
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("Claim: %v", err)
	}
	twice, per := 0, [2]int{}
	for _, by := range seen {
		if len(by) > 1 {
			twice++
		}
		per[by[0]]++
	}
	if twice > 0 || len(seen) != n {
		t.Errorf("%d attempts claimed, %d of them by both instances; want each of %d claimed once", len(seen), twice, n)
	}
	t.Logf("instance 1 took %d, instance 2 took %d; %d COMMITs failed with 9007", per[0], per[1], d.Conflicts())
}

// TestConflictRetried: each dialect's retryable errors (deadlock, lock
// wait timeout, TiDB's write conflicts, PostgreSQL's serialization
// failure and deadlock) make the store run the transaction again, so one
// lost COMMIT is invisible to the caller; one that keeps losing gives up
// after a bounded number of runs with an error that is not a business
// outcome (not ErrConflict).
func TestConflictRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		engine sqlsim.Engine
		err    error
	}{
		{"mysql-1213-deadlock", sqlsim.TiDB, sqlsim.MySQLError(1213, "Deadlock found when trying to get lock; try restarting transaction")},
		{"mysql-1205-lock-wait-timeout", sqlsim.TiDB, sqlsim.MySQLError(1205, "Lock wait timeout exceeded; try restarting transaction")},
		{"tidb-9007-write-conflict", sqlsim.TiDB, sqlsim.MySQLError(9007, "Write conflict [try again later]")},
		{"tidb-8002-for-update-conflict", sqlsim.TiDB, sqlsim.MySQLError(8002, "[tikv] SELECT FOR UPDATE write conflict")},
		{"tidb-8022-commit-retry", sqlsim.TiDB, sqlsim.MySQLError(8022, "Error: KV error safe to retry")},
		{"postgres-40001-serialization", sqlsim.PostgresSerializable, sqlsim.PostgresError("40001", "could not serialize access")},
		{"postgres-40P01-deadlock", sqlsim.PostgresSerializable, sqlsim.PostgresError("40P01", "deadlock detected")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fail atomic.Int64 // COMMITs still to fail
			var failed atomic.Int64
			d := &sqlsim.Driver{Engine: tc.engine, Inject: func(q string) error {
				if q == "COMMIT" && fail.Add(-1) >= 0 {
					failed.Add(1)
					return tc.err
				}
				return nil
			}}
			db, tg := openSim(t, d)
			s := newStore(t, tg, db)
			// What is counted is the runs, not the waits between them:
			// with the store's backoff the 15 waits of the Settle that
			// always loses took about 2 s a case.
			ctx := sqlstore.WithConflictBackoff(context.Background(), time.Microsecond, time.Microsecond)
			once, always := order("BIZR", 1), order("BIZR", 2)
			create(t, s, once)
			create(t, s, always)

			fail.Store(1)
			settled, err := s.Settle(ctx, once.OutTradeNo, store.Payment{TransactionID: "T1"}, t0)
			if err != nil || !settled || failed.Load() != 1 {
				t.Fatalf("Settle after one lost COMMIT: got (%v, %v) with %d lost; want (true, nil) after 1", settled, err, failed.Load())
			}

			failed.Store(0)
			fail.Store(1 << 30)
			settled, err = s.Settle(ctx, always.OutTradeNo, store.Payment{TransactionID: "T2"}, t0)
			fail.Store(0)
			if err == nil || settled || errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), tc.err.Error()) {
				t.Errorf("Settle that always loses: got (%v, %v), want the conflict as an error, not ErrConflict", settled, err)
			}
			if failed.Load() != sqlstore.ConflictTries {
				t.Errorf("Settle that always loses ran %d times, want %d", failed.Load(), sqlstore.ConflictTries)
			}
			if o := get(t, s, always.OutTradeNo); o.Status != store.Pending {
				t.Errorf("attempt after the lost Settles: got %s, want PENDING", o.Status)
			}
		})
	}
}

// TestMigrateWithoutGetLock: under the OceanBase simulation, where
// GET_LOCK does not exist, six instances migrating one prefix at once all
// succeed, one at a time (by the lease in <prefix>migrate_leases), and
// leave the lease free.
func TestMigrateWithoutGetLock(t *testing.T) {
	const n = 6
	var prefix string
	var active, most atomic.Int64
	d := &sqlsim.Driver{Engine: sqlsim.OceanBase, Inject: func(q string) error {
		switch {
		case prefix == "":
		case strings.HasPrefix(q, "CREATE TABLE IF NOT EXISTS "+prefix+"schema_version"):
			if a := active.Add(1); a > most.Load() {
				most.Store(a)
			}
		case strings.HasPrefix(q, "DELETE FROM "+prefix+"migrate_leases"):
			active.Add(-1)
		}
		return nil
	}}
	db, tg := openSim(t, d)
	db.SetMaxOpenConns(2 * n)
	prefix = newPrefix(t, tg, db)
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		s, err := sqlstore.New(db, sqlstore.Config{Dialect: sqlstore.MySQL, TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			errs[i] = s.Migrate(ctx)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	if most.Load() != 1 {
		t.Errorf("migrations running at once: up to %d, want 1", most.Load())
	}
	var versions, leases int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + prefix + "schema_version").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM " + prefix + "migrate_leases").Scan(&leases); err != nil {
		t.Fatal(err)
	}
	if versions != len(sqlstore.MigrationVersions()) || leases != 0 {
		t.Errorf("after Migrate: %d versions and %d leases held, want %d and 0", versions, leases, len(sqlstore.MigrationVersions()))
	}
}

// TestLeaseClockSkew: a lease that ran out by the database node's clock
// is only taken over Config.ClockSkew later, since the node that judged
// it may run behind another's; with no margin it is free at once.
func TestLeaseClockSkew(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		skewed, prefix := newStorePrefix(t, tg, db)
		ctx := context.Background()
		if _, err := skewed.Acquire(ctx, "job", time.Minute); err != nil {
			t.Fatal(err)
		}
		// Expired a second ago, by the database's own clock.
		if _, err := db.ExecContext(ctx, "UPDATE "+prefix+"leases SET expires_at = expires_at - 61000000"); err != nil {
			t.Fatal(err)
		}
		strict, err := sqlstore.New(db, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix, ClockSkew: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := strict.TryAcquire(ctx, "job", time.Minute); ok || err != nil {
			t.Errorf("TryAcquire within an hour's skew of expiry: got (%v, %v), want (false, nil)", ok, err)
		}
		none, err := sqlstore.New(db, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix, ClockSkew: -1})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := none.TryAcquire(ctx, "job", time.Minute); !ok || err != nil {
			t.Errorf("TryAcquire with no skew, a second after expiry: got (%v, %v), want (true, nil)", ok, err)
		}
	})
}

// TestRefundClaimClockSkew: a refund claim whose lease ran out is taken
// over only DefaultClockSkew (500 ms) later by the claimer's clock.
func TestRefundClaimClockSkew(t *testing.T) {
	tg := targets[0]
	db := tg.open(t, tg.newDSN(t))
	s := newStore(t, tg, db)
	ctx := context.Background()
	o := order("BIZK", 1)
	create(t, s, o)
	if _, err := s.Settle(ctx, o.OutTradeNo, store.Payment{TransactionID: "TK"}, t0); err != nil {
		t.Fatal(err)
	}
	req := &store.Refund{OutTradeNo: o.OutTradeNo, Amount: 100, Reason: "test", CreatedAt: t0, UpdatedAt: t0, NextDue: t0}
	if _, _, err := s.ReserveRefund(ctx, req, time.Minute, t0); err != nil {
		t.Fatal(err)
	}
	expired := t0.Add(time.Minute)
	if got, err := s.ClaimRefunds(ctx, expired.Add(sqlstore.DefaultClockSkew-time.Millisecond), time.Minute, 10); err != nil || len(got) != 0 {
		t.Errorf("ClaimRefunds within the skew after the lease: got %d (%v), want none", len(got), err)
	}
	if got, err := s.ClaimRefunds(ctx, expired.Add(sqlstore.DefaultClockSkew), time.Minute, 10); err != nil || len(got) != 1 {
		t.Errorf("ClaimRefunds once the skew passed: got %d (%v), want the refund", len(got), err)
	}
}

// TestSimConflictsReachPreparedStatements: on the MySQL dialect the Store
// runs a fresh settlement's statements as statements it prepared once,
// outside the transactions they later run in; the TiDB simulation must
// still see those transactions write, and fail their COMMITs as TiDB's
// optimistic mode would, or every conformance run under it would pass
// without a single conflict. Each settlement's transaction is run again
// and settles once.
func TestSimConflictsReachPreparedStatements(t *testing.T) {
	d := &sqlsim.Driver{Engine: sqlsim.TiDB, ConflictEvery: 2}
	db, tg := openSim(t, d)
	s := newStore(t, tg, db)
	ctx := context.Background()
	var during int64
	for i := range 4 {
		o := order(fmt.Sprintf("PREP%d", i), 1)
		create(t, s, o)
		if _, err := s.Get(ctx, o.OutTradeNo); err != nil { // prepares the hot statements
			t.Fatal(err)
		}
		before := d.Conflicts()
		settled, tok, held, err := s.SettleAndTryAcquire(ctx, o.OutTradeNo, store.Payment{TransactionID: "T1", PaidAt: t0}, t0, "lease:"+o.BusinessID, time.Minute)
		if err != nil || !settled || !held {
			t.Fatalf("SettleAndTryAcquire(%s): got (%v, %v, %v), want (true, true, nil)", o.OutTradeNo, settled, held, err)
		}
		if err := s.MarkFulfilledAndRelease(ctx, o.OutTradeNo, t0, "lease:"+o.BusinessID, tok); err != nil {
			t.Fatalf("MarkFulfilledAndRelease(%s): %v", o.OutTradeNo, err)
		}
		during += d.Conflicts() - before
	}
	if during == 0 {
		t.Fatal("no COMMIT failed under the TiDB simulation: it did not see the prepared statements write")
	}
}
