package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
)

func newLocker(t testing.TB, tg target, db *sql.DB, prefix string) *sqlstore.Locker {
	t.Helper()
	return newLockerSkew(t, tg, db, prefix, 0)
}

// newLockerSkew is newLocker with Config.ClockSkew skew (zero: the
// default).
func newLockerSkew(t testing.TB, tg target, db *sql.DB, prefix string, skew time.Duration) *sqlstore.Locker {
	t.Helper()
	l, err := sqlstore.NewLocker(db, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix, ClockSkew: skew})
	if err != nil {
		t.Fatalf("NewLocker: %v", err)
	}
	return l
}

func TestNewLocker(t *testing.T) {
	db, err := sql.Open("sqlite", sqliteMemoryDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, tc := range []struct {
		name string
		db   *sql.DB
		cfg  sqlstore.Config
		want error
	}{
		{"ok", db, sqlstore.Config{Dialect: sqlstore.MySQL}, nil},
		{"nil db", nil, sqlstore.Config{Dialect: sqlstore.MySQL}, sqlstore.ErrNoDB},
		{"no dialect", db, sqlstore.Config{}, sqlstore.ErrDialect},
		{"bad prefix", db, sqlstore.Config{Dialect: sqlstore.SQLite, TablePrefix: "a-b"}, sqlstore.ErrPrefix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := sqlstore.NewLocker(tc.db, tc.cfg); !errors.Is(err, tc.want) {
				t.Fatalf("NewLocker: got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestLockerExtend checks Extend by the holder, by a stranger, and after
// the lease expired (expiry is written into the row: no sleeping).
func TestLockerExtend(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		_, prefix := newStorePrefix(t, tg, db)
		l := newLocker(t, tg, db, prefix)
		ctx := context.Background()
		token, err := l.Acquire(ctx, "job", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Extend(ctx, "job", token, time.Hour); err != nil {
			t.Fatalf("Extend by the holder: got %v, want nil", err)
		}
		if err := l.Extend(ctx, "job", "stranger", time.Hour); !errors.Is(err, store.ErrNotHeld) {
			t.Fatalf("Extend by a stranger: got %v, want ErrNotHeld", err)
		}
		if err := l.Extend(ctx, "job", token, 0); !errors.Is(err, sqlstore.ErrTTL) {
			t.Fatalf("Extend with ttl 0: got %v, want ErrTTL", err)
		}
		// A lease extended to an hour must still block a taker.
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if got, err := l.Acquire(short, "job", time.Minute); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire of an extended lease: got (%q, %v), want DeadlineExceeded", got, err)
		}
		if _, err := db.Exec("UPDATE " + prefix + "leases SET expires_at = 0"); err != nil {
			t.Fatal(err)
		}
		if err := l.Extend(ctx, "job", token, time.Hour); !errors.Is(err, store.ErrNotHeld) {
			t.Fatalf("Extend of an expired lease: got %v, want ErrNotHeld", err)
		}
		if err := l.Release(ctx, "job", token); !errors.Is(err, store.ErrNotHeld) {
			t.Fatalf("Release of an expired lease: got %v, want ErrNotHeld", err)
		}
		next, err := l.Acquire(ctx, "job", time.Minute)
		if err != nil {
			t.Fatalf("Acquire of an expired lease: %v", err)
		}
		if err := l.Release(ctx, "job", next); err != nil {
			t.Fatalf("Release by the new holder: %v", err)
		}
	})
}

// TestStoreLeasesAreLockerLeases: a Store's own leases and a Locker's on
// the same database and prefix are one table, so an instance wired with
// the Store and one wired with NewLocker exclude each other.
func TestStoreLeasesAreLockerLeases(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		s, prefix := newStorePrefix(t, tg, db)
		l := newLocker(t, tg, db, prefix)
		ctx := context.Background()
		token, err := s.Acquire(ctx, "job", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if tok, ok, err := l.TryAcquire(ctx, "job", time.Minute); ok || err != nil {
			t.Fatalf("Locker.TryAcquire of a lease the Store holds: got (%q, %v, %v), want not ok", tok, ok, err)
		}
		if err := l.Release(ctx, "job", token); err != nil {
			t.Fatalf("Locker.Release of the Store's lease by its token: %v", err)
		}
		tok, ok, err := s.TryAcquire(ctx, "job", time.Minute)
		if !ok || err != nil {
			t.Fatalf("Store.TryAcquire after release: got (%q, %v, %v), want the lease", tok, ok, err)
		}
		if err := s.Extend(ctx, "job", tok, time.Hour); err != nil {
			t.Fatalf("Store.Extend by the holder: %v", err)
		}
		if err := s.Release(ctx, "job", tok); err != nil {
			t.Fatalf("Store.Release by the holder: %v", err)
		}
	})
}

// TestLateTakeIsDisowned: a take whose caller gave up can still commit in
// the server after the caller's clean-up deleted its token's row (seen
// under load: the next Acquire of the lease then waited out its whole
// TTL). The clean-up deletes again in the background, so such a lease is
// gone long before its TTL of a minute. Plant killed: a disown that
// deletes once.
func TestLateTakeIsDisowned(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		_, prefix := newStorePrefix(t, tg, db)
		l := newLocker(t, tg, db, prefix)
		ctx := context.Background()
		const late = "0123456789abcdef0123456789abcdef"
		l.Disown(ctx, "job", late, time.Minute) // the failed take's clean-up: nothing yet
		if err := l.LateTake(ctx, "job", late, time.Minute); err != nil {
			t.Fatal(err) // the take commits after all
		}
		bound := time.Now().Add(30 * time.Second) // far below the TTL
		for {
			tok, ok, err := l.TryAcquire(ctx, "job", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				if err := l.Release(ctx, "job", tok); err != nil {
					t.Fatal(err)
				}
				return
			}
			if time.Now().After(bound) {
				t.Fatal("the late take's lease was still held 30 s later: nothing deleted it again")
			}
			time.Sleep(20 * time.Millisecond) // polling an outcome with a bound, not ordering
		}
	})
}
