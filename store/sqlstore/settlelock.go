package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cypaykit/kit/internal/batchq"
	"github.com/cypaykit/kit/store"
)

var (
	_ store.SettleLocker     = (*Store)(nil)
	_ store.ReadSettleLocker = (*Store)(nil)
)

// SettleAndTryAcquire implements store.SettleLocker: the lease is taken
// with Settle's compare-and-set and only when it matched, so the
// settlement and the fulfilment lease cost one commit. On PostgreSQL that
// is one statement run alone (see settleLeaseQueries): one round trip. As
// with MarkFulfilled, a statement whose answer is lost (the connection
// drops, or ctx ends while it waits for a row lock) may still be applied
// afterwards; what it records, a verified payment, is true, and its lease
// is deleted again before the error returns (or runs out). Elsewhere the
// lease is taken in Settle's transaction. A wrapper that embeds a Store
// to change Settle must wrap this too.
func (s *Store) SettleAndTryAcquire(ctx context.Context, outTradeNo string, p store.Payment, now time.Time, name string, ttl time.Duration) (settled bool, token string, held bool, err error) {
	token, err = newLeaseToken(ttl)
	if err != nil {
		return false, "", false, err
	}
	if s.q.settleLease != "" {
		settled, held, err = s.settleLeaseAlone(ctx, outTradeNo, p, now, name, token, ttl)
		if err != nil || !settled || !held {
			return settled, "", false, err
		}
		return true, token, true, nil
	}
	settled, err = s.settle(ctx, outTradeNo, p, now, func(tx *sql.Tx) (err error) {
		held, err = s.lease.takeIn(ctx, s.on(tx), name, token, ttl)
		return err
	})
	if err != nil || !settled || !held {
		return settled, "", false, err
	}
	return true, token, true, nil
}

// MarkFulfilledAndRelease implements store.SettleLocker: the record, the
// schedule and the lease's release are one statement on PostgreSQL and
// MySQL (run alone, like MarkFulfilled: a late success records what is
// true and frees what its holder gave up) and one transaction on SQLite.
// On MySQL the statement does both or nothing; when it does nothing, a
// transaction marks and releases as on SQLite and reports what was not
// possible.
func (s *Store) MarkFulfilledAndRelease(ctx context.Context, outTradeNo string, now time.Time, name, token string) error {
	op := "mark fulfilled " + outTradeNo
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, op, err)
	}
	if s.released != nil {
		done, err := s.markReleaseAlone(ctx, outTradeNo, now, name, token)
		if err != nil {
			return s.failCAS(ctx, op, err)
		}
		if done {
			return nil
		}
		// Not both: the transaction below finds out which and says so.
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
		err = s.inTx(ctx, func(tx *sql.Tx) error { return run(s.on(tx)) })
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

// settleLeaseAlone is SettleAndTryAcquire in one statement, for
// PostgreSQL. When the compare-and-set matched nothing, the attempt is
// read afterwards and classified as Settle classifies it.
func (s *Store) settleLeaseAlone(ctx context.Context, outTradeNo string, p store.Payment, now time.Time, name, token string, ttl time.Duration) (settled, held bool, err error) {
	op := "settle " + outTradeNo
	if err := ctx.Err(); err != nil {
		return false, false, s.fail(ctx, op, err)
	}
	q := s.q.settleLease
	args := []any{p.TransactionID, p.ChannelTransactionID, nullMicros(p.PaidAt), micros(now), outTradeNo}
	if m := p.Money; m.Recorded {
		q = s.q.settleLeaseMoney
		args = append(args, m.CouponFee, m.CashFee, m.FeeType, m.BankType, m.SubAppID, m.WxMchID, m.WxSubMchID)
	}
	args = append(args, name, token, ttl.Microseconds())
	for try := 0; try < casTries; try++ {
		var n, leased int64
		err := retryConflicts(ctx, s.dialect, func() error {
			return s.db.QueryRowContext(ctx, q, args...).Scan(&n, &leased)
		})
		if err != nil {
			// The statement may still land: give its lease up again.
			s.lease.disown(ctx, name, token, ttl)
			return false, false, s.fail(ctx, op, err)
		}
		if n > 0 {
			return true, leased > 0, nil
		}
		var st, txID string
		err = s.db.QueryRowContext(ctx, s.q.classify, outTradeNo).Scan(&st, &txID)
		if errors.Is(err, sql.ErrNoRows) {
			return false, false, fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
		}
		if err != nil {
			return false, false, s.fail(ctx, op, err)
		}
		if done, err := unsettled(op, store.Status(st), txID, p); done {
			return false, false, err
		}
	}
	return false, false, fmt.Errorf("sqlstore: %s: attempt stayed PENDING after %d tries", op, casTries)
}

// ReadSettleAndTryAcquire implements store.ReadSettleLocker. On
// PostgreSQL it is one statement run alone (see readSettleLeaseQueries),
// so a fresh settlement costs no read before it; like
// SettleAndTryAcquire's, a statement whose answer is lost may still be
// applied, and its lease is deleted again before the error returns (or
// runs out). Elsewhere it is Get, then SettleAndTryAcquire when the
// attempt read is PENDING and matches want: the same round trips as the
// two calls.
func (s *Store) ReadSettleAndTryAcquire(ctx context.Context, outTradeNo string, want store.Expect, p store.Payment, now time.Time, leasePrefix string, ttl time.Duration) (o *store.Order, settled bool, token string, held bool, err error) {
	if s.q.readSettleLease == "" {
		if o, err = s.Get(ctx, outTradeNo); err != nil {
			return nil, false, "", false, err
		}
		if o.Status != store.Pending || !want.Allows(o) {
			return o, false, "", false, nil
		}
		settled, token, held, err = s.SettleAndTryAcquire(ctx, outTradeNo, p, now, leasePrefix+o.BusinessID, ttl)
		if !settled && (err == nil || errors.Is(err, store.ErrConflict)) {
			// Settled by someone else meanwhile: nothing changed here,
			// and the caller decides from the attempt as read.
			return o, false, "", false, nil
		}
		if err != nil {
			return nil, false, "", false, err
		}
		return o, settled, token, held, nil
	}
	op := "settle " + outTradeNo
	if err := ctx.Err(); err != nil {
		return nil, false, "", false, s.fail(ctx, op, err)
	}
	if token, err = newLeaseToken(ttl); err != nil {
		return nil, false, "", false, err
	}
	versions := [2]string{}
	for i, v := range want.Versions {
		if i == len(versions) {
			return nil, false, "", false, fmt.Errorf("sqlstore: %s: %d versions, want at most %d", op, len(want.Versions), len(versions))
		}
		versions[i] = string(v)
	}
	q := s.q.readSettleLease
	args := []any{p.TransactionID, p.ChannelTransactionID, nullMicros(p.PaidAt), micros(now), outTradeNo,
		want.MchID, want.Amount, versions[0], versions[1]}
	if m := p.Money; m.Recorded {
		q = s.q.readSettleLeaseMoney
		args = append(args, m.CouponFee, m.CashFee, m.FeeType, m.BankType, m.SubAppID, m.WxMchID, m.WxSubMchID)
	}
	args = append(args, leasePrefix, token, ttl.Microseconds(), outTradeNo)
	var n, leased int64
	err = retryConflicts(ctx, s.dialect, func() error {
		o, err = scanOrder(counted{s.db.QueryRowContext(ctx, q, args...), []any{&n, &leased}})
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		// As Get reports it.
		return nil, false, "", false, fmt.Errorf("sqlstore: get %s: %w", outTradeNo, store.ErrNotFound)
	}
	if err != nil {
		// The statement may still land: give its lease up again. Its
		// name is not known here (it is the attempt's business id's), so
		// the delete finds it by the attempt.
		s.disownRead(ctx, outTradeNo, leasePrefix, token, ttl)
		return nil, false, "", false, s.fail(ctx, op, err)
	}
	if n == 0 || leased == 0 {
		return o, n > 0, "", false, nil
	}
	return o, true, token, true, nil
}

// counted scans a row that has two counts after what scanOrder reads.
type counted struct {
	row    scanner
	counts []any
}

func (c counted) Scan(dest ...any) error { return c.row.Scan(append(dest, c.counts...)...) }

// disownRead is Locker.disown for a failed ReadSettleAndTryAcquire, whose
// lease is named leasePrefix and the business id of outTradeNo.
func (s *Store) disownRead(ctx context.Context, outTradeNo, leasePrefix, token string, ttl time.Duration) {
	s.lease.disownBy(ctx, ttl, s.q.disownRead, leasePrefix, outTradeNo, token)
}

// markReleaseAlone is MySQL's MarkFulfilledAndRelease in one statement
// (issue 18.8): one round trip and one commit instead of a transaction's
// four round trips. MySQL's UPDATE cannot delete, so the lease row is
// released in place (an empty token, expired), which frees it as a delete
// would: no caller holds the empty token, and a take overwrites an
// expired row. The row itself is deleted afterwards, in batches, by
// purgeReleased. done is false when the statement changed nothing (the
// attempt is not PAID and unfulfilled, or token does not hold the
// lease): the caller then runs the transaction that tells which.
func (s *Store) markReleaseAlone(ctx context.Context, outTradeNo string, now time.Time, name, token string) (done bool, err error) {
	var n int64
	err = retryConflicts(ctx, s.dialect, func() (err error) {
		n, err = change(ctx, s.on(nil), s.q.markRelease, name, token, micros(now), micros(now), outTradeNo)
		return err
	})
	if err == nil && n == 0 {
		return false, nil
	}
	// Released in place, or perhaps (a statement whose answer was lost
	// may still land): queue the row's deletion, which spares a row
	// still held.
	s.released.Add(name)
	return err == nil, err
}

// releasedLimits bound the queue of released lease rows waiting to be
// deleted, and each DELETE. A name dropped from a full queue leaves its
// row in the table: an expired lease with no holder, which the next take
// of that name overwrites.
var releasedLimits = batchq.Limits{Rows: 1 << 16, Bytes: 16 << 20, BatchRows: releasedBatch, BatchBytes: 64 << 10}

// purgeTimeout bounds one purgeReleased batch.
const purgeTimeout = 10 * time.Second

// purgeSizes are the lengths of purgeReleased's IN lists: a batch is
// padded to the next one by repeating a name, so that each size is one
// statement, prepared once per connection like the settlement's.
var purgeSizes = [...]int{1, 16, releasedBatch}

const releasedBatch = 256

// purgeReleased deletes the rows of the leases named names that were
// released in place, and only while they still are (an empty token), so
// a lease taken again in the meantime stays. It runs after the replies
// it follows, so an error only leaves the rows as they are (see
// releasedLimits).
func (s *Store) purgeReleased(names []string) {
	ctx, cancel := context.WithTimeout(context.Background(), purgeTimeout)
	defer cancel()
	size := purgeSizes[len(purgeSizes)-1]
	for _, n := range purgeSizes {
		if n >= len(names) {
			size = n
			break
		}
	}
	q := "DELETE FROM " + s.prefix + "leases WHERE token = '' AND name IN (" + placeholders(size) + ")"
	args := make([]any, size)
	for i := range args {
		args[i] = names[0]
		if i < len(names) {
			args[i] = names[i]
		}
	}
	_ = retryConflicts(ctx, s.dialect, func() error {
		_, err := s.on(nil).ExecContext(ctx, q, args...)
		return err
	})
}
