package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"regexp"
	"strings"
	"time"
)

// Retrying transactions that lost to another. Every engine aborts some
// transactions only because another ran beside them, and says so with an
// error the client is expected to answer by running it again:
// MySQL/MariaDB's deadlock (1213) and lock wait timeout (1205), TiDB's
// write conflicts at COMMIT in optimistic mode (9007, 8002, 8022),
// PostgreSQL's serialization failure (40001) and deadlock (40P01). Such an
// abort changed nothing, so running the whole transaction again is safe,
// and it must never reach a caller as a business outcome.
const (
	// conflictTries bounds the runs of one transaction.
	conflictTries = 16
	// Backoff between runs starts at conflictMinBackoff and doubles up to
	// conflictMaxBackoff, with jitter, so two losers do not meet again.
	conflictMinBackoff = 2 * time.Millisecond
	conflictMaxBackoff = 250 * time.Millisecond
)

// mysqlCodes are the retryable error numbers of the MySQL dialect's
// engines. go-sql-driver formats its error as "Error 1213 (40001): …".
var mysqlCodes = map[string]bool{
	"1213": true, // ER_LOCK_DEADLOCK
	"1205": true, // ER_LOCK_WAIT_TIMEOUT: the store's transactions are short, so a wait this long is another's stall
	"9007": true, // TiDB: write conflict (optimistic transaction)
	"8002": true, // TiDB: SELECT … FOR UPDATE write conflict (optimistic transaction)
	"8022": true, // TiDB: transaction commit failed, retry
}

var mysqlErrorRE = regexp.MustCompile(`Error (\d{4})\b`)

// retryable reports whether err aborted a transaction only because of a
// concurrent one.
func retryable(d Dialect, err error) bool {
	if err == nil {
		return false
	}
	switch d {
	case Postgres:
		var e interface{ SQLState() string }
		if errors.As(err, &e) {
			return e.SQLState() == "40001" || e.SQLState() == "40P01"
		}
		msg := err.Error()
		return strings.Contains(msg, "SQLSTATE 40001") || strings.Contains(msg, "SQLSTATE 40P01")
	case MySQL:
		m := mysqlErrorRE.FindStringSubmatch(err.Error())
		return m != nil && mysqlCodes[m[1]]
	}
	return false
}

// backoffKey is the context key of a [2]time.Duration that replaces
// conflictMinBackoff and conflictMaxBackoff. Only the package's tests set
// it (export_test.go), for tests that count runs of a transaction that
// always loses and would otherwise wait out 15 backoffs (about 2 s) each.
type backoffKey struct{}

// retryConflicts runs fn until it returns an error that is not retryable
// (or nil), at most conflictTries times, waiting a jittered backoff in
// between. A ctx that ends stops the waiting.
func retryConflicts(ctx context.Context, d Dialect, fn func() error) error {
	exhausted, err := retryWhile(ctx, func(err error) bool { return retryable(d, err) }, fn)
	if exhausted {
		return fmt.Errorf("%w (conflicting with other transactions %d times)", err, conflictTries)
	}
	return err
}

// retryWhile runs fn until it returns nil or an error again rejects, at
// most conflictTries times, waiting a jittered backoff in between, and
// returns the last run's error; exhausted reports that every try failed
// with an error again accepted. A ctx that ends stops the waiting.
func retryWhile(ctx context.Context, again func(error) bool, fn func() error) (exhausted bool, err error) {
	wait, most := conflictMinBackoff, conflictMaxBackoff
	if b, ok := ctx.Value(backoffKey{}).([2]time.Duration); ok {
		wait, most = b[0], b[1]
	}
	for try := 1; ; try++ {
		err := fn()
		if err == nil || !again(err) {
			return false, err
		}
		if try == conflictTries {
			return true, err
		}
		t := time.NewTimer(wait/2 + mrand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, err
		case <-t.C:
		}
		wait = min(wait*2, most)
	}
}

// sqliteBusy reports whether err is SQLite's SQLITE_BUSY (modernc.org/sqlite
// says "database is locked (5) (SQLITE_BUSY)").
func sqliteBusy(err error) bool {
	return err != nil && strings.Contains(err.Error(), "SQLITE_BUSY")
}

// inTx runs fn in a transaction and commits it, running the whole
// transaction again when it or its COMMIT lost to a concurrent one. fn
// must be safe to run again: it sees a fresh transaction each time, and
// whatever it computed in a failed run must be recomputed.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return retryConflicts(ctx, s.dialect, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit()
	})
}
