package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
)

// holdRow locks the attempt's row in a transaction of its own until t
// ends or the returned release is called, so that a Settle on it blocks
// inside the database.
func holdRow(t testing.TB, tg target, db *sql.DB, table, outTradeNo string) (release func()) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf("SELECT out_trade_no FROM %s WHERE out_trade_no = ? FOR UPDATE", table)
	if tg.dialect == sqlstore.Postgres {
		q = fmt.Sprintf("SELECT out_trade_no FROM %s WHERE out_trade_no = $1 FOR UPDATE", table)
	}
	if err := tx.QueryRow(q, outTradeNo).Scan(new(string)); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			tx.Rollback()
		}
	}
	t.Cleanup(release)
	return release
}

// blockedSession waits until a session runs an UPDATE of table and waits
// for a lock, and returns its id (a Postgres pid, a MySQL connection id).
func blockedSession(t testing.TB, tg target, db *sql.DB, table string) int64 {
	t.Helper()
	q := `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`
	if tg.dialect == sqlstore.MySQL {
		q = `SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE ?`
	}
	pattern := "UPDATE " + table + " %"
	if tg.dialect == sqlstore.Postgres {
		// Settle's UPDATE is inside a WITH there (it moves the schedule
		// in the same statement); the session filter is wait_event_type.
		pattern = "%" + pattern
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var id int64
		err := db.QueryRow(q, pattern).Scan(&id)
		if err == nil {
			return id
		}
		if !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no session is waiting to UPDATE %s", table)
	return 0
}

func settleAsync(s *sqlstore.Store, ctx context.Context, outTradeNo string) <-chan error {
	done := make(chan error, 1)
	go func() {
		settled, err := s.Settle(ctx, outTradeNo, store.Payment{TransactionID: "4200000042", PaidAt: t0}, t0)
		if settled {
			err = fmt.Errorf("settled=true, err=%v", err)
		} else if err == nil {
			err = errors.New("settled=false, err=nil")
		}
		done <- err
	}()
	return done
}

// TestSessionKilledMidSettle cuts the database session of a Settle that
// is inside its UPDATE (blocked on a row lock): Settle must return an
// error, the attempt must still be PENDING, and the store must recover.
func TestSessionKilledMidSettle(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		if !tg.server {
			t.Skip("an embedded database has no session to kill")
		}
		s, prefix := newStorePrefix(t, tg, db)
		o := order("KILL", 1)
		create(t, s, o)
		release := holdRow(t, tg, db, prefix+"orders", o.OutTradeNo)
		done := settleAsync(s, context.Background(), o.OutTradeNo)
		id := blockedSession(t, tg, db, prefix+"orders")
		kill := "SELECT pg_terminate_backend($1)"
		var err error
		if tg.dialect == sqlstore.MySQL {
			kill = fmt.Sprintf("KILL %d", id)
			_, err = db.Exec(kill)
		} else {
			_, err = db.Exec(kill, id)
		}
		if err != nil {
			t.Fatalf("%s: %v", kill, err)
		}
		err = <-done
		t.Logf("Settle with its session killed: %v", err)
		if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Settle: got %v, want a database error", err)
		}
		if strings.HasPrefix(err.Error(), "settled=") {
			t.Fatalf("Settle: got %v, want an error", err)
		}
		release()
		if got := get(t, s, o.OutTradeNo); got.Status != store.Pending {
			t.Fatalf("status after the killed Settle: got %s, want PENDING", got.Status)
		}
		settled, err := s.Settle(context.Background(), o.OutTradeNo, store.Payment{TransactionID: "4200000042"}, t0)
		if !settled || err != nil {
			t.Fatalf("Settle after recovery: got %v, %v; want true, nil", settled, err)
		}
	})
}

// TestSettleBlockedUntilDeadline: a Settle stuck behind a row lock
// returns ctx's error as soon as ctx ends, and leaves nothing behind
// once the lock is released.
func TestSettleBlockedUntilDeadline(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		if !tg.server {
			t.Skip("SQLite blocks on busy_timeout, not on a row lock")
		}
		s, prefix := newStorePrefix(t, tg, db)
		o := order("WAIT", 1)
		create(t, s, o)
		release := holdRow(t, tg, db, prefix+"orders", o.OutTradeNo)
		ctx, cancel := context.WithCancel(context.Background())
		done := settleAsync(s, ctx, o.OutTradeNo)
		blockedSession(t, tg, db, prefix+"orders")
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Settle with ctx cancelled while blocked: got %v, want context.Canceled", err)
		}
		release()
		// The server may still run the UPDATE once the lock is free (pgx
		// and go-sql-driver only drop the connection), but its
		// transaction never commits: an error means "not settled".
		if got := get(t, s, o.OutTradeNo); got.Status != store.Pending {
			t.Fatalf("status after the cancelled Settle: got %s, want PENDING", got.Status)
		}
	})
}
