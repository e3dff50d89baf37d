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
