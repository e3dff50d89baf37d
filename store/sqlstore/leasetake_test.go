package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
)

// forMySQLTargets runs fn on every MySQL-dialect target (MariaDB and the
// TiDB and OceanBase simulations on it).
func forMySQLTargets(t *testing.T, fn func(t *testing.T, tg target, dsn string, db *sql.DB)) {
	forTargets(t, append(append([]target{}, targets...), simTargets...), func(t *testing.T, tg target, dsn string, db *sql.DB) {
		if tg.dialect != sqlstore.MySQL {
			t.Skip("MySQL's INSERT IGNORE take and release in place")
		}
		fn(t, tg, dsn, db)
	})
}

// TestLeaseTakeFoundRows: on MySQL a take is INSERT IGNORE, then, only
// for a name whose row is there, an UPDATE of an expired row; both count
// the same with and without the client's CLIENT_FOUND_ROWS flag, which
// makes an upsert's count of an untouched row 1, as an insert's. A take
// that trusted an upsert's count would, with the flag, report a held
// lease as taken: the second TryAcquire below.
func TestLeaseTakeFoundRows(t *testing.T) {
	forMySQLTargets(t, func(t *testing.T, tg target, dsn string, _ *sql.DB) {
		for _, found := range []bool{false, true} {
			t.Run(fmt.Sprintf("clientFoundRows=%v", found), func(t *testing.T) {
				sep := "?"
				if strings.Contains(dsn, "?") {
					sep = "&"
				}
				db := tg.open(t, dsn+sep+fmt.Sprintf("clientFoundRows=%v", found))
				_, prefix := newStorePrefix(t, tg, db)
				l := newLockerSkew(t, tg, db, prefix, time.Millisecond)
				ctx := context.Background()
				first, ok, err := l.TryAcquire(ctx, "job", time.Minute)
				if !ok || err != nil {
					t.Fatalf("TryAcquire of a free name: got (%v, %v), want the lease", ok, err)
				}
				if tok, ok, err := l.TryAcquire(ctx, "job", time.Minute); ok || err != nil {
					t.Fatalf("TryAcquire of a held lease: got (%q, %v, %v), want not held", tok, ok, err)
				}
				if _, err := db.Exec("UPDATE " + prefix + "leases SET expires_at = 0"); err != nil {
					t.Fatal(err)
				}
				second, ok, err := l.TryAcquire(ctx, "job", time.Minute)
				if !ok || err != nil {
					t.Fatalf("TryAcquire of an expired lease: got (%v, %v), want the lease", ok, err)
				}
				if err := l.Release(ctx, "job", first); !errors.Is(err, store.ErrNotHeld) {
					t.Fatalf("Release by the expired holder: got %v, want ErrNotHeld", err)
				}
				if err := l.Release(ctx, "job", second); err != nil {
					t.Fatalf("Release by the holder: %v", err)
				}
				if _, ok, err := l.TryAcquire(ctx, "job", time.Minute); !ok || err != nil {
					t.Fatalf("TryAcquire after the release: got (%v, %v), want the lease", ok, err)
				}
			})
		}
	})
}

// TestLeaseNameTheColumnHolds: INSERT IGNORE stores a name that strict
// mode would refuse (too long for VARCHAR(191), not UTF-8) cut short, so
// two names could share a lease. Such a name is refused before the
// database sees it, and nothing is written.
func TestLeaseNameTheColumnHolds(t *testing.T) {
	forMySQLTargets(t, func(t *testing.T, tg target, _ string, db *sql.DB) {
		s, prefix := newStorePrefix(t, tg, db)
		ctx := context.Background()
		for _, name := range []string{strings.Repeat("x", 192), strings.Repeat("支", 192), "lease:\xff\xfe"} {
			if tok, ok, err := s.TryAcquire(ctx, name, time.Minute); err == nil || ok {
				t.Errorf("TryAcquire(%.12q…): got (%q, %v, %v), want an error", name, tok, ok, err)
			}
		}
		if n := leaseRows(t, db, prefix); n != 0 {
			t.Fatalf("%d lease rows after refused names; want none", n)
		}
		for _, name := range []string{strings.Repeat("x", 191), strings.Repeat("支", 191)} {
			if _, ok, err := s.TryAcquire(ctx, name, time.Minute); !ok || err != nil {
				t.Errorf("TryAcquire of a %d-character name: got (%v, %v), want the lease", len([]rune(name)), ok, err)
			}
		}
	})
}

// TestReleasedInPlaceArePurged: on MySQL MarkFulfilledAndRelease releases
// the lease in its one statement by emptying its token, and the row is
// deleted after the reply; a row taken again before that deletion is
// kept, and a batch deletes every name it is given. Plants killed: a
// purge that does not require the empty token; one that deletes only the
// first name of a batch.
func TestReleasedInPlaceArePurged(t *testing.T) {
	forMySQLTargets(t, func(t *testing.T, tg target, _ string, db *sql.DB) {
		s, prefix := newStorePrefix(t, tg, db)
		ctx := context.Background()
		o := order("PURGE", 1)
		create(t, s, o)
		_, tok, held, err := s.SettleAndTryAcquire(ctx, o.OutTradeNo, store.Payment{TransactionID: "T1", PaidAt: time.Now()}, time.Now(), "lease:PURGE", time.Minute)
		if err != nil || !held {
			t.Fatalf("SettleAndTryAcquire: got held=%v, %v", held, err)
		}
		if err := s.MarkFulfilledAndRelease(ctx, o.OutTradeNo, time.Now(), "lease:PURGE", tok); err != nil {
			t.Fatalf("MarkFulfilledAndRelease: %v", err)
		}
		waitPurged(t, s)
		if n := leaseRows(t, db, prefix); n != 0 {
			t.Fatalf("%d lease rows after the purge; want none", n)
		}

		// Released in place, then taken again before the purge ran.
		if _, ok, err := s.TryAcquire(ctx, "job", time.Minute); !ok || err != nil {
			t.Fatalf("TryAcquire: got (%v, %v)", ok, err)
		}
		if _, err := db.Exec("UPDATE " + prefix + "leases SET token = '', expires_at = 0"); err != nil {
			t.Fatal(err)
		}
		again, ok, err := s.TryAcquire(ctx, "job", time.Minute)
		if !ok || err != nil {
			t.Fatalf("TryAcquire of a lease released in place: got (%v, %v), want the lease", ok, err)
		}
		sqlstore.PurgeReleased(s, []string{"job"})
		if err := s.Release(ctx, "job", again); err != nil {
			t.Fatalf("Release by the holder after a purge: got %v, want nil (the purge must keep a held lease)", err)
		}

		// A batch of 17 names, padded to the next statement size.
		var names []string
		for i := range 17 {
			names = append(names, fmt.Sprintf("n%02d", i))
			if _, ok, err := s.TryAcquire(ctx, names[i], time.Minute); !ok || err != nil {
				t.Fatalf("TryAcquire(%s): got (%v, %v)", names[i], ok, err)
			}
		}
		if _, err := db.Exec("UPDATE " + prefix + "leases SET token = '', expires_at = 0"); err != nil {
			t.Fatal(err)
		}
		sqlstore.PurgeReleased(s, names)
		if n := leaseRows(t, db, prefix); n != 0 {
			t.Fatalf("%d lease rows after purging all 17; want none", n)
		}
	})
}

// TestReleaseInPlaceExclusive: 16 attempts of one business order, each
// settled and fulfilled by its own goroutine (as 16 deliveries on several
// instances would), all under the business order's one lease: MySQL's
// take (INSERT IGNORE, then an UPDATE of an expired row), its release in
// place by MarkFulfilledAndRelease and the deletion of released rows
// after each reply all run at once. At no moment do two goroutines hold
// the lease, every attempt ends fulfilled, and no lease row is left.
func TestReleaseInPlaceExclusive(t *testing.T) {
	forMySQLTargets(t, func(t *testing.T, tg target, _ string, db *sql.DB) {
		s, prefix := newStorePrefix(t, tg, db)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		const n = 16
		const name = "lease:EXCL"
		var holders, most atomic.Int32
		errs := make(chan error, n)
		for i := range n {
			o := order("EXCL", i+1)
			create(t, s, o)
			go func() {
				errs <- func() error {
					now := time.Now()
					settled, tok, held, err := s.SettleAndTryAcquire(ctx, o.OutTradeNo, store.Payment{TransactionID: "T" + o.OutTradeNo, PaidAt: now}, now, name, time.Minute)
					if err != nil || !settled {
						return fmt.Errorf("SettleAndTryAcquire(%s): settled=%v, %v", o.OutTradeNo, settled, err)
					}
					if !held {
						if tok, err = s.Acquire(ctx, name, time.Minute); err != nil {
							return fmt.Errorf("Acquire for %s: %v", o.OutTradeNo, err)
						}
					}
					// While held: a read of the business order's attempts,
					// as the Settler's under the lease, so that an overlap
					// lasts a round trip and is seen.
					h := holders.Add(1)
					for m := most.Load(); h > m && !most.CompareAndSwap(m, h); m = most.Load() {
					}
					_, err = s.ListByBusinessID(ctx, o.BusinessID)
					holders.Add(-1)
					if err != nil {
						return err
					}
					if err := s.MarkFulfilledAndRelease(ctx, o.OutTradeNo, time.Now(), name, tok); err != nil {
						return fmt.Errorf("MarkFulfilledAndRelease(%s): %v", o.OutTradeNo, err)
					}
					return nil
				}()
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if m := most.Load(); m != 1 {
			t.Errorf("at most %d goroutines held the lease at once; want 1", m)
		}
		for i := range n {
			if o := get(t, s, order("EXCL", i+1).OutTradeNo); !o.Fulfilled {
				t.Errorf("%s: not fulfilled", o.OutTradeNo)
			}
		}
		waitPurged(t, s)
		if left := leaseRows(t, db, prefix); left != 0 {
			t.Errorf("%d lease rows left; want none", left)
		}
	})
}
