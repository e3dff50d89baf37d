package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"
	"unicode/utf8"

	"github.com/cypaykit/kit/store"
)

// Backoff between attempts to take a lease held elsewhere: it starts at
// lockMinBackoff and doubles up to lockMaxBackoff, with jitter.
const (
	lockMinBackoff = 5 * time.Millisecond
	lockMaxBackoff = 200 * time.Millisecond
)

// ErrTTL is returned by Locker.Acquire and Locker.Extend for a ttl under
// a millisecond.
var ErrTTL = errors.New("sqlstore: ttl must be at least 1ms")

// Locker is a store.Locker on the same database as the Store, for hosts
// that have no Redis: a lease is a row of <prefix>leases holding a random
// token and an expiry. Expiry is judged by the database's clock (SQLite:
// the host's), so the app instances' clocks do not matter. Migrate creates
// the table. It is safe for concurrent use by goroutines and processes.
type Locker struct {
	db      *sql.DB
	dialect Dialect
	q       lockQueries
}

var (
	_ store.TryLocker = (*Locker)(nil)
	_ store.Extender  = (*Locker)(nil)
)

type lockQueries struct {
	take, release, extend, held string
	// takeOver is MySQL's second step of a take, run only when take's
	// INSERT IGNORE found the name's row: it overwrites the row only once
	// the lease has been expired for the skew. Empty elsewhere.
	takeOver string
}

// NewLocker returns a Locker over db; cfg is the Store's configuration
// (the same prefix puts the lease table beside the orders).
func NewLocker(db *sql.DB, cfg Config) (*Locker, error) {
	if db == nil {
		return nil, ErrNoDB
	}
	prefix, err := checkConfig(cfg.Dialect, cfg.TablePrefix)
	if err != nil {
		return nil, err
	}
	return newLocker(db, cfg.Dialect, prefix+"leases", cfg.clockSkew()), nil
}

func newLocker(db *sql.DB, d Dialect, table string, skew time.Duration) *Locker {
	return &Locker{db: db, dialect: d, q: buildLockQueries(d, table, skew)}
}

// nowMicros is the database's clock in Unix microseconds, constant within
// one statement.
func nowMicros(d Dialect) string {
	switch d {
	case Postgres:
		return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)"
	case MySQL:
		return "CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)"
	default:
		return "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)"
	}
}

// leaseExpired is the condition, on a lease row's expires_at, that the
// lease has been expired for skew by the database's clock.
func leaseExpired(d Dialect, skew time.Duration) string {
	return fmt.Sprintf("expires_at + %d <= %s", skew.Microseconds(), nowMicros(d))
}

// buildLockQueries builds the statements on the lease table t. A lease
// is only taken over once it has been expired for skew by the clock of the
// node that runs the statement: on a database whose nodes each read their
// own clock (TiDB's NOW() is the TiDB server's), a node whose clock runs
// up to skew ahead of the holder's still sees the holder's lease live
// for as long as the holder can extend it.
func buildLockQueries(d Dialect, t string, skew time.Duration) lockQueries {
	now := nowMicros(d)
	expired := leaseExpired(d, skew)
	r := func(format string, args ...any) string { return rebind(d, fmt.Sprintf(format, args...)) }
	q := lockQueries{
		// take inserts the lease, or overwrites it only once it expired.
		take: r("INSERT INTO %[1]s (name, token, expires_at) VALUES (?, ?, %[2]s + ?) "+
			"ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at "+
			"WHERE %[1]s.%[3]s", t, now, expired),
		release: r("DELETE FROM %s WHERE name = ? AND token = ? AND expires_at > %s", t, now),
		extend:  r("UPDATE %s SET expires_at = %s + ? WHERE name = ? AND token = ? AND expires_at > %s", t, now, now),
		held:    r("SELECT 1 FROM %s WHERE name = ? AND token = ? AND expires_at > %s", t, now),
	}
	if d == MySQL {
		// No ON CONFLICT … WHERE in MySQL, and an upsert's affected-row
		// count depends on the client's CLIENT_FOUND_ROWS flag (an
		// unchanged row counts 0 without it, 1 with it, as an insert
		// does). So a take is an INSERT IGNORE, which counts 1 only when
		// it inserted, and, only when the row was there, an UPDATE whose
		// WHERE holds only for an expired lease and whose SET always
		// changes the row (a new token), so that rows matched and rows
		// changed agree under either flag. A fresh name costs one round
		// trip, with no read of the holder after it (issue 18.8).
		q.take = r("INSERT IGNORE INTO %[1]s (name, token, expires_at) VALUES (?, ?, %[2]s + ?)", t, now)
		q.takeOver = r("UPDATE %[1]s SET token = ?, expires_at = %[2]s + ? WHERE name = ? AND %[3]s", t, now, expired)
	}
	return q
}

// Acquire blocks until it holds the lease name for ttl or ctx ends, trying
// again with exponential backoff and jitter while another holder has it.
// A database error ends it at once.
func (l *Locker) Acquire(ctx context.Context, name string, ttl time.Duration) (string, error) {
	op := "acquire " + name
	token, err := newLeaseToken(ttl)
	if err != nil {
		return "", err
	}
	wait := lockMinBackoff
	var timer *time.Timer
	for {
		if err := ctx.Err(); err != nil {
			return "", lockFail(ctx, op, err)
		}
		ok, err := l.take(ctx, name, token, ttl)
		if err != nil {
			return "", lockFail(ctx, op, err)
		}
		if ok {
			return token, nil
		}
		d := wait/2 + mrand.N(wait/2+1)
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("sqlstore: %s: %w", op, ctx.Err())
		case <-timer.C:
		}
		wait = min(wait*2, lockMaxBackoff)
	}
}

// TryAcquire takes the lease name for ttl if it is free or expired, with
// one statement (on MySQL one for a name with no row, and up to three
// when the row is there), and reports ok=false without waiting if
// another holder has it.
func (l *Locker) TryAcquire(ctx context.Context, name string, ttl time.Duration) (string, bool, error) {
	op := "try acquire " + name
	token, err := newLeaseToken(ttl)
	if err != nil {
		return "", false, err
	}
	if err := ctx.Err(); err != nil {
		return "", false, lockFail(ctx, op, err)
	}
	ok, err := l.take(ctx, name, token, ttl)
	if err != nil {
		return "", false, lockFail(ctx, op, err)
	}
	if !ok {
		return "", false, nil
	}
	return token, true, nil
}

func newLeaseToken(ttl time.Duration) (string, error) {
	if ttl < time.Millisecond {
		return "", fmt.Errorf("%w, got %v", ErrTTL, ttl)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sqlstore: token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// take tries once to take the lease name for token. When it fails, the
// statement may still have committed (a context that ends while the
// database works cancels the wait, not the write), which would leave a
// lease nobody holds a token for until its TTL runs out; so a failed take
// deletes the token's row, if any, before it returns.
func (l *Locker) take(ctx context.Context, name, token string, ttl time.Duration) (ok bool, err error) {
	defer func() {
		if err != nil {
			l.disown(ctx, name, token, ttl)
		}
	}()
	err = retryConflicts(ctx, l.dialect, func() (err error) {
		ok, err = l.takeIn(ctx, l.db, name, token, ttl)
		return err
	})
	return ok, err
}

// takeIn tries once to take the lease name for token on q (the database,
// or a transaction the lease joins).
func (l *Locker) takeIn(ctx context.Context, q execer, name, token string, ttl time.Duration) (bool, error) {
	if err := l.checkName(name); err != nil {
		return false, err
	}
	res, err := q.ExecContext(ctx, l.q.take, name, token, ttl.Microseconds())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 1 || l.q.takeOver == "" {
		return n == 1 && err == nil, err
	}
	// MySQL: the name's row is there. Overwrite it if it expired.
	if res, err = q.ExecContext(ctx, l.q.takeOver, token, ttl.Microseconds(), name); err != nil {
		return false, err
	}
	if n, err = res.RowsAffected(); err != nil || n == 1 {
		return n == 1 && err == nil, err
	}
	// Held, or deleted since the INSERT saw it (a Release, or the purge
	// of a row released in place, which follows every fulfilment at
	// once): insert once more, so that a free name is not reported held.
	if res, err = q.ExecContext(ctx, l.q.take, name, token, ttl.Microseconds()); err != nil {
		return false, err
	}
	n, err = res.RowsAffected()
	return n == 1 && err == nil, err
}

// maxMySQLLeaseName is the length of the lease table's name column on
// MySQL, VARCHAR(191), in characters.
const maxMySQLLeaseName = 191

// checkName refuses, on MySQL, a lease name that the name column cannot
// hold exactly. INSERT IGNORE turns the errors strict mode gives such a
// name (too long, not UTF-8) into warnings and stores it cut short, so
// two different names could share one lease row.
func (l *Locker) checkName(name string) error {
	if l.q.takeOver == "" {
		return nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxMySQLLeaseName {
		return fmt.Errorf("sqlstore: lease name %.40q…: want valid UTF-8 of at most %d characters on MySQL", name, maxMySQLLeaseName)
	}
	return nil
}

// exec runs one statement, again when it lost to a concurrent transaction
// (see retryConflicts): each lease statement is a single conditional
// write, so a run that was aborted changed nothing.
func (l *Locker) exec(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	err = retryConflicts(ctx, l.dialect, func() error {
		res, err = l.db.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// disownAgain are the pauses between the deletes disown makes after its
// first: a take whose caller gave up may still be waiting in the server
// (for a row lock, or a busy machine) and commit after the first delete.
var disownAgain = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, time.Second, 3 * time.Second, 10 * time.Second}

// disown deletes name's row if token holds it, ignoring errors: it runs
// after a failed take, on a context of its own, for at most a few seconds.
// A failed take may still commit later (a context that ends cancels the
// client's wait, not the server's write), and a row written after the
// delete would be a lease nobody holds a token for, blocking name for its
// whole TTL. So the delete is made again in the background after each
// pause of disownAgain, while the TTL has not run out: the token is this
// take's own, so a late delete can only remove this take's row.
func (l *Locker) disown(ctx context.Context, name, token string, ttl time.Duration) {
	l.disownBy(ctx, ttl, l.q.release, name, token)
}

// disownBy is disown with the delete given: query, with args, deletes
// one row that the failed take's own token holds.
func (l *Locker) disownBy(ctx context.Context, ttl time.Duration, query string, args ...any) {
	l.deleteBy(ctx, ttl, query, args...)
	go func() {
		elapsed := time.Duration(0)
		for _, d := range disownAgain {
			if elapsed += d; elapsed >= ttl {
				return
			}
			time.Sleep(d)
			l.deleteBy(ctx, ttl, query, args...)
		}
	}()
}

// deleteBy runs one of disown's deletes, ignoring errors.
func (l *Locker) deleteBy(ctx context.Context, ttl time.Duration, query string, args ...any) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(ttl, 5*time.Second))
	defer cancel()
	_, _ = l.db.ExecContext(dctx, query, args...)
}

// Release gives the lease up if token still holds it (and it has not
// expired), else returns store.ErrNotHeld.
func (l *Locker) Release(ctx context.Context, name, token string) error {
	op := "release " + name
	if err := ctx.Err(); err != nil {
		return lockFail(ctx, op, err)
	}
	res, err := l.exec(ctx, l.q.release, name, token)
	if err != nil {
		return lockFail(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return lockFail(ctx, op, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotHeld)
	}
	return nil
}

// Extend resets the lease's expiry to ttl from now if token still holds
// it, else returns store.ErrNotHeld.
func (l *Locker) Extend(ctx context.Context, name, token string, ttl time.Duration) error {
	op := "extend " + name
	if ttl < time.Millisecond {
		return fmt.Errorf("%w, got %v", ErrTTL, ttl)
	}
	if err := ctx.Err(); err != nil {
		return lockFail(ctx, op, err)
	}
	res, err := l.exec(ctx, l.q.extend, ttl.Microseconds(), name, token)
	if err != nil {
		return lockFail(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return lockFail(ctx, op, err)
	}
	if n == 0 && l.dialect == MySQL {
		// MySQL counts changed rows: an unchanged expiry is still held.
		err = l.db.QueryRowContext(ctx, l.q.held, name, token).Scan(new(int))
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return lockFail(ctx, op, err)
		}
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotHeld)
	}
	return nil
}

func lockFail(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, ctxErr, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}
