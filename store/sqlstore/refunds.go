package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

var _ store.RefundStore = (*Store)(nil)

const refundColumns = "out_refund_no, out_trade_no, business_id, mch_id, channel, version, order_amount, seq, amount, " +
	"reason, after_close, idempotency_key, state, refund_id, refunded_at, tries, note, next_due, claim_token, claim_until, " +
	"created_at, updated_at"

// refundQueries holds the RefundStore's statements.
type refundQueries struct {
	lockOrder, orderForRefund, byKey, sums, insert, get, getLocked, list string
	tradeOf, due, claim, update, markRefunded                            string
}

// inFlight is the SQL list of refund states a poller still works on.
var inFlight = fmt.Sprintf("'%s', '%s', '%s'", store.RefundPending, store.RefundProcessing, store.RefundNotSure)

func buildRefundQueries(d Dialect, p string) refundQueries {
	t, o := p+"refunds", p+"orders"
	r := func(format string, args ...any) string { return rebind(d, fmt.Sprintf(format, args...)) }
	sel := "SELECT " + refundColumns + " FROM " + t
	forUpdate := " FOR UPDATE"
	if d == SQLite {
		forUpdate = "" // no row locks: the first write took the database's
	}
	// The attempt's row is locked by writing it (unchanged) rather than by
	// SELECT … FOR UPDATE: a write is a lock on every engine, including
	// SQLite (whose write lock is the database's) and TiDB in optimistic
	// mode (where two writers of one row conflict at COMMIT), and under
	// PostgreSQL's REPEATABLE READ or SERIALIZABLE a transaction whose
	// snapshot predates another's write of the row fails with 40001 and is
	// run again, instead of summing refunds from a stale snapshot.
	lockOrder := r("UPDATE %s SET updated_at = updated_at WHERE out_trade_no = ?", o)
	return refundQueries{
		lockOrder:      lockOrder,
		orderForRefund: r("SELECT business_id, mch_id, channel, version, amount, status FROM %s WHERE out_trade_no = ?", o),
		byKey:          r("%s WHERE idempotency_key = ?", sel),
		sums: r("SELECT COALESCE(SUM(CASE WHEN state <> '%s' THEN amount ELSE 0 END), 0), "+
			"COALESCE(SUM(CASE WHEN state = '%s' THEN amount ELSE 0 END), 0), COUNT(*) FROM %s WHERE out_trade_no = ?",
			store.RefundFailed, store.RefundSucceeded, t),
		insert: r("INSERT INTO %s (%s) VALUES (%s)", t, refundColumns,
			strings.TrimSuffix(strings.Repeat("?, ", strings.Count(refundColumns, ",")+1), ", ")),
		get:       r("%s WHERE out_refund_no = ?", sel),
		getLocked: r("%s WHERE out_refund_no = ?%s", sel, forUpdate),
		list:      r("%s WHERE out_trade_no = ? ORDER BY seq", sel),
		tradeOf:   r("SELECT out_trade_no FROM %s WHERE out_refund_no = ?", t),
		due: r("SELECT out_refund_no FROM %s WHERE state IN (%s) AND next_due <= ? AND (claim_token = '' OR claim_until <= ?) "+
			"ORDER BY next_due, out_refund_no LIMIT ?", t, inFlight),
		claim: r("UPDATE %s SET claim_token = ?, claim_until = ? WHERE out_refund_no = ? AND %s", t,
			onRow(d, fmt.Sprintf("state IN (%s) AND next_due <= ? AND (claim_token = '' OR claim_until <= ?)", inFlight))),
		update: r("UPDATE %s SET state = ?, refund_id = ?, refunded_at = ?, tries = ?, note = ?, next_due = ?, "+
			"claim_token = ?, claim_until = ?, updated_at = ? WHERE out_refund_no = ?", t),
		// Both tests beside a key are onRow's: as plain conditions, the
		// sum's generic plan on tables never analysed read every
		// successful refund of the shop through refunds_state_due to find
		// this attempt's (TestWritePlansUseTheKey).
		markRefunded: r("UPDATE %[1]s SET status = '%[2]s', updated_at = ? WHERE out_trade_no = ? AND %[3]s",
			o, store.Refunded, onRow(d, fmt.Sprintf("status = '%s' AND amount <= "+
				"(SELECT COALESCE(SUM(amount), 0) FROM %s WHERE out_trade_no = ? AND %s)",
				store.Paid, t, onRow(d, "state = '"+string(store.RefundSucceeded)+"'")))),
	}
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func scanRefund(sc scanner) (*store.Refund, error) {
	var (
		r                                     store.Refund
		channel, version, state               string
		key                                   sql.NullString
		refundedAt                            sql.NullInt64
		nextDue, claimUntil, created, updated int64
		afterClose                            int
	)
	err := sc.Scan(&r.OutRefundNo, &r.OutTradeNo, &r.BusinessID, &r.MchID, &channel, &version, &r.OrderAmount,
		&r.Seq, &r.Amount, &r.Reason, &afterClose, &key, &state, &r.RefundID, &refundedAt, &r.Tries, &r.Note, &nextDue,
		&r.ClaimToken, &claimUntil, &created, &updated)
	if err != nil {
		return nil, err
	}
	r.Channel, r.Version, r.State = model.PayType(channel), model.Version(version), store.RefundState(state)
	r.IdempotencyKey = key.String
	r.AfterClose = afterClose != 0
	r.RefundedAt = fromNullMicros(refundedAt)
	r.NextDue = fromMicros(nextDue)
	if r.ClaimToken != "" {
		r.ClaimUntil = fromMicros(claimUntil)
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &r, nil
}

func newClaimToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.New("sqlstore: cannot draw a claim token: " + err.Error())
	}
	return hex.EncodeToString(b[:]), nil
}

// ReserveRefund implements store.RefundStore in one transaction that
// first locks the attempt's row (with a no-op UPDATE, see
// buildRefundQueries), so reservations of one attempt run
// one after another and each sums the others' committed rows.
func (s *Store) ReserveRefund(ctx context.Context, r *store.Refund, lease time.Duration, now time.Time) (*store.Refund, bool, error) {
	if r == nil {
		return nil, false, errors.New("sqlstore: reserve refund: nil refund")
	}
	op := "reserve refund of " + r.OutTradeNo
	if err := ctx.Err(); err != nil {
		return nil, false, s.fail(ctx, op, err)
	}
	tok, err := newClaimToken()
	if err != nil {
		return nil, false, err
	}
	ref, created, err := s.reserve(ctx, r, tok, lease, now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrNotRefundable) ||
			errors.Is(err, store.ErrRefundAmount) || errors.Is(err, store.ErrKeyReused) || errors.Is(err, store.ErrExists) {
			return nil, false, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		return nil, false, s.fail(ctx, op, err)
	}
	return ref, created, nil
}

func (s *Store) reserve(ctx context.Context, r *store.Refund, tok string, lease time.Duration, now time.Time) (*store.Refund, bool, error) {
	var (
		out     *store.Refund
		created bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		out, created, err = s.reserveIn(ctx, tx, r, tok, lease, now)
		return err
	})
	return out, created, err
}

// reserveIn is one run of ReserveRefund's transaction, on tx.
func (s *Store) reserveIn(ctx context.Context, tx *sql.Tx, r *store.Refund, tok string, lease time.Duration, now time.Time) (*store.Refund, bool, error) {
	q := s.rq
	if _, err := tx.ExecContext(ctx, q.lockOrder, r.OutTradeNo); err != nil {
		return nil, false, err
	}
	if r.IdempotencyKey != "" {
		old, err := scanRefund(tx.QueryRowContext(ctx, q.byKey, r.IdempotencyKey))
		switch {
		case err == nil && (old.OutTradeNo != r.OutTradeNo || old.Amount != r.Amount):
			return nil, false, store.ErrKeyReused
		case err == nil:
			old.ClaimToken = ""
			return old, false, nil
		case !errors.Is(err, sql.ErrNoRows):
			return nil, false, err
		}
	}
	c := *r
	var status string
	err := tx.QueryRowContext(ctx, q.orderForRefund, r.OutTradeNo).Scan(&c.BusinessID, &c.MchID, (*string)(&c.Channel),
		(*string)(&c.Version), &c.OrderAmount, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, store.ErrNotFound
	}
	if err != nil {
		return nil, false, err
	}
	if !store.Refundable(store.Status(status), r.AfterClose) {
		return nil, false, fmt.Errorf("attempt is %s: %w", status, store.ErrNotRefundable)
	}
	var reserved, refunded int64
	var count int
	if err := tx.QueryRowContext(ctx, q.sums, r.OutTradeNo).Scan(&reserved, &refunded, &count); err != nil {
		return nil, false, err
	}
	if r.Amount <= 0 || r.Amount > c.OrderAmount-reserved {
		return nil, false, fmt.Errorf("%d fen with %d of %d reserved: %w", r.Amount, reserved, c.OrderAmount, store.ErrRefundAmount)
	}
	c.Seq = count + 1
	c.OutRefundNo = store.RefundNo(r.OutTradeNo, c.Seq)
	c.State, c.RefundID, c.RefundedAt, c.Tries, c.Note = store.RefundPending, "", time.Time{}, 0, r.Note
	c.ClaimToken, c.ClaimUntil = tok, now.Add(lease)
	_, err = tx.ExecContext(ctx, q.insert, c.OutRefundNo, c.OutTradeNo, c.BusinessID, c.MchID, string(c.Channel),
		string(c.Version), c.OrderAmount, c.Seq, c.Amount, c.Reason, flag(c.AfterClose), nullString(c.IdempotencyKey), string(c.State),
		c.RefundID, nullMicros(c.RefundedAt), c.Tries, c.Note, micros(c.NextDue), c.ClaimToken, micros(c.ClaimUntil),
		micros(c.CreatedAt), micros(c.UpdatedAt))
	if err != nil {
		if isUniqueViolation(s.dialect, err) {
			// The attempt is locked, so the clash is the key, taken
			// meanwhile for another attempt, or a hashed number.
			if c.IdempotencyKey != "" {
				return nil, false, store.ErrKeyReused
			}
			return nil, false, store.ErrExists
		}
		return nil, false, err
	}
	return &c, true, nil
}

// GetRefund implements store.RefundStore.
func (s *Store) GetRefund(ctx context.Context, outRefundNo string) (*store.Refund, error) {
	op := "get refund " + outRefundNo
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	r, err := scanRefund(s.db.QueryRowContext(ctx, s.rq.get, outRefundNo))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	r.ClaimToken = ""
	return r, nil
}

// ListRefunds implements store.RefundStore.
func (s *Store) ListRefunds(ctx context.Context, outTradeNo string) ([]*store.Refund, error) {
	op := "list refunds of " + outTradeNo
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	rows, err := s.db.QueryContext(ctx, s.rq.list, outTradeNo)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	out := []*store.Refund{}
	for rows.Next() {
		r, err := scanRefund(rows)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		r.ClaimToken = ""
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// RefundTotals implements store.RefundStore.
func (s *Store) RefundTotals(ctx context.Context, outTradeNo string) (store.RefundTotals, error) {
	op := "refund totals of " + outTradeNo
	if err := ctx.Err(); err != nil {
		return store.RefundTotals{}, s.fail(ctx, op, err)
	}
	var t store.RefundTotals
	var n int
	if err := s.db.QueryRowContext(ctx, s.rq.sums, outTradeNo).Scan(&t.Reserved, &t.Refunded, &n); err != nil {
		return store.RefundTotals{}, s.fail(ctx, op, err)
	}
	return t, nil
}

// ClaimRefunds implements store.RefundStore: it lists due refunds, then
// claims each with a conditional UPDATE that only matches while the
// refund is still due and unclaimed, so of concurrent claimers one wins
// each refund. Losers look again until they have limit or nothing is due.
// A claim whose lease ran out is taken over only Config.ClockSkew later,
// since its holder judged the lease by its own clock.
func (s *Store) ClaimRefunds(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Refund, error) {
	const op = "claim refunds"
	out := []*store.Refund{}
	for len(out) < limit {
		if err := ctx.Err(); err != nil {
			return nil, s.fail(ctx, op, err)
		}
		nos, err := s.dueRefunds(ctx, now, limit-len(out))
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		if len(nos) == 0 {
			break
		}
		for _, no := range nos {
			tok, err := newClaimToken()
			if err != nil {
				return nil, err
			}
			var res sql.Result
			err = retryConflicts(ctx, s.dialect, func() (err error) {
				res, err = s.db.ExecContext(ctx, s.rq.claim, tok, micros(now.Add(lease)), no, micros(now), micros(now.Add(-s.skew)))
				return err
			})
			if err != nil {
				return nil, s.fail(ctx, op, err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				continue
			}
			r, err := scanRefund(s.db.QueryRowContext(ctx, s.rq.get, no))
			if err != nil {
				return nil, s.fail(ctx, op, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *Store) dueRefunds(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.rq.due, micros(now), micros(now.Add(-s.skew)), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var nos []string
	for rows.Next() {
		var no string
		if err := rows.Scan(&no); err != nil {
			return nil, err
		}
		nos = append(nos, no)
	}
	return nos, rows.Err()
}

// UpdateRefund implements store.RefundStore in one transaction that locks
// the attempt's row first (as ReserveRefund does), then checks the claim
// and the state under that lock, writes, and marks the attempt REFUNDED
// when its SUCCESS refunds now cover it.
func (s *Store) UpdateRefund(ctx context.Context, outRefundNo, token string, u store.RefundUpdate, now time.Time) (*store.Refund, error) {
	op := "update refund " + outRefundNo
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	// out_trade_no never changes, so it is read before the transaction,
	// whose first statement must be the lock.
	var otn string
	err := s.db.QueryRowContext(ctx, s.rq.tradeOf, outRefundNo).Scan(&otn)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	r, err := s.updateRefund(ctx, otn, outRefundNo, token, u, now)
	if err != nil {
		if errors.Is(err, store.ErrNotHeld) || errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		return nil, s.fail(ctx, op, err)
	}
	return r, nil
}

func (s *Store) updateRefund(ctx context.Context, otn, outRefundNo, token string, u store.RefundUpdate, now time.Time) (*store.Refund, error) {
	var out *store.Refund
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		out, err = s.updateRefundIn(ctx, tx, otn, outRefundNo, token, u, now)
		return err
	})
	return out, err
}

// updateRefundIn is one run of UpdateRefund's transaction, on tx.
func (s *Store) updateRefundIn(ctx context.Context, tx *sql.Tx, otn, outRefundNo, token string, u store.RefundUpdate, now time.Time) (*store.Refund, error) {
	q := s.rq
	if _, err := tx.ExecContext(ctx, q.lockOrder, otn); err != nil {
		return nil, err
	}
	r, err := scanRefund(tx.QueryRowContext(ctx, q.getLocked, outRefundNo))
	if err != nil {
		return nil, err
	}
	changed, err := r.Apply(u, token, now)
	if err != nil {
		return nil, err
	}
	if !changed {
		r.ClaimToken = ""
		return r, nil
	}
	var claimUntil int64 // no claim: Apply released it
	if r.ClaimToken != "" {
		claimUntil = micros(r.ClaimUntil)
	}
	if _, err := tx.ExecContext(ctx, q.update, string(r.State), r.RefundID, nullMicros(r.RefundedAt), r.Tries, r.Note,
		micros(r.NextDue), r.ClaimToken, claimUntil, micros(now), outRefundNo); err != nil {
		return nil, err
	}
	if r.State == store.RefundSucceeded {
		if _, err := tx.ExecContext(ctx, q.markRefunded, micros(now), otn, otn); err != nil {
			return nil, err
		}
	}
	r.ClaimToken = ""
	return r, nil
}
