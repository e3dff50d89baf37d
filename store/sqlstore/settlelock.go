package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cypaykit/kit/store"
)

var _ store.SettleLocker = (*Store)(nil)

// SettleAndTryAcquire implements store.SettleLocker: the lease is taken
// in Settle's transaction, after the compare-and-set and only when it
// matched, so the settlement and the fulfilment lease cost one commit. A
// wrapper that embeds a Store to change Settle must wrap this too.
func (s *Store) SettleAndTryAcquire(ctx context.Context, outTradeNo string, p store.Payment, now time.Time, name string, ttl time.Duration) (settled bool, token string, held bool, err error) {
	token, err = newLeaseToken(ttl)
	if err != nil {
		return false, "", false, err
	}
	settled, err = s.settle(ctx, outTradeNo, p, now, func(tx *sql.Tx) (err error) {
		held, err = s.lease.takeIn(ctx, tx, name, token, ttl)
		return err
	})
	if err != nil || !settled || !held {
		return settled, "", false, err
	}
	return true, token, true, nil
}

// MarkFulfilledAndRelease implements store.SettleLocker: the record, the
// schedule and the lease's release are one statement on PostgreSQL (run
// alone, like MarkFulfilled: a late success records what is true and
// frees what its holder gave up) and one transaction elsewhere.
func (s *Store) MarkFulfilledAndRelease(ctx context.Context, outTradeNo string, now time.Time, name, token string) error {
	op := "mark fulfilled " + outTradeNo
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, op, err)
	}
	var marked, released int64
	var status store.Status
	run := func(q execer) error {
		marked, released, status = 0, 0, ""
		var err error
		if s.dialect == Postgres {
			err = q.QueryRowContext(ctx, s.q.markRelease, micros(now), micros(now), outTradeNo, name, token).Scan(&marked, &released)
		} else if marked, err = change(ctx, q, s.q.markFulfilled, micros(now), micros(now), outTradeNo); err == nil && marked > 0 {
			if s.q.markThen != "" {
				if _, err = q.ExecContext(ctx, s.q.markThen, outTradeNo); err != nil {
					return err
				}
			}
			var res sql.Result
			if res, err = q.ExecContext(ctx, s.lease.q.release, name, token); err == nil {
				released, err = res.RowsAffected()
			}
		}
		if err != nil || marked > 0 {
			return err
		}
		var st, txID string
		err = q.QueryRowContext(ctx, s.q.classify, outTradeNo).Scan(&st, &txID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		status = store.Status(st)
		return err
	}
	var err error
	if s.dialect == Postgres {
		err = retryConflicts(ctx, s.dialect, func() error { return run(s.db) })
	} else {
		err = s.inTx(ctx, func(tx *sql.Tx) error { return run(tx) })
	}
	switch {
	case err != nil:
		return s.failCAS(ctx, op, err)
	case marked == 0 && status == store.Paid:
		// Recorded before: only the lease is left to give up.
		return s.lease.Release(ctx, name, token)
	case marked == 0:
		return fmt.Errorf("sqlstore: %s: attempt is %s: %w", op, status, store.ErrConflict)
	case released == 0:
		return fmt.Errorf("sqlstore: %s: recorded, but release %s: %w", op, name, store.ErrNotHeld)
	}
	return nil
}
