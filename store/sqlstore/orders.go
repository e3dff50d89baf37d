package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

const columns = "out_trade_no, business_id, attempt, mch_id, channel, trade_type, version, amount, status, " +
	"transaction_id, channel_transaction_id, paid_at, fulfilled, fulfilled_at, code_url, pay_info, reason, " +
	"created_at, updated_at"

// queries holds every statement, built once per Store with its table
// names and placeholders.
type queries struct {
	insert, insertBuyer, get, listByBusiness, setCheckout, exists string
	settle, classify, markFulfilled, finish                       string
	touchNothing                                                  string
	schedule                                                      scheduleQueries
	// settleThen and markThen move the attempt's schedule after settle
	// and markFulfilled, in the same transaction; they are empty where
	// settle and markFulfilled move it themselves (see foldSchedule).
	settleThen, markThen string
	// settleClearsMoney says settle also deletes the attempt's money facts,
	// which Settle otherwise deletes with deleteMoney.
	settleClearsMoney bool
	// replaceMoney, on the MySQL dialect, writes a payment's money facts
	// over any the attempt was created with in one upsert. Deleting a row
	// that is not there and then inserting it takes a gap lock and an
	// insert intention lock on the same gap, which deadlocks two
	// concurrent settlements on InnoDB.
	replaceMoney string
	// markRelease is MarkFulfilledAndRelease in one statement. On
	// PostgreSQL: markFulfilled's CTE that also deletes the lease, and
	// answers with the attempts marked and the leases released. On
	// MySQL: markFulfilled's multi-table UPDATE joined to the lease row
	// this token holds, which it releases in place (see
	// Store.markReleaseAlone); it changes nothing unless it can do both.
	markRelease string
	// settleLease and settleLeaseMoney are PostgreSQL's
	// SettleAndTryAcquire, one statement each (see settleLeaseQueries).
	settleLease, settleLeaseMoney string
	// readSettleLease and readSettleLeaseMoney are PostgreSQL's
	// ReadSettleAndTryAcquire, one statement each (see
	// readSettleLeaseQueries); empty elsewhere.
	readSettleLease, readSettleLeaseMoney string
	// disownRead deletes the lease a failed readSettleLease may still
	// take: the one its token holds, named by the lease prefix and the
	// attempt's business id.
	disownRead string

	insertExpiry                                 string
	insertMoney                                  string
	deleteMoney                                  string
	insertAbandon, abandon, isAbandoned, reverse string
}

// moneyColumns are order_money's facts, in Order.Money's order.
const moneyColumns = "coupon_fee, cash_fee, fee_type, bank_type, sub_appid, wx_mch_id, wx_sub_mch_id"

// selectOrders reads the order columns, then the schedule's next_due, the
// buyer fingerprint, the expiry and the money facts, so that scanOrder
// fills Order.NextDue, Order.Buyer, Order.ExpiresAt and Order.Money.
//
// On PostgreSQL each side table is read per attempt through a LATERAL
// subquery that the planner cannot flatten (LIMIT 1: each is keyed by
// out_trade_no, so at most one row), which fixes the plan to one primary
// key lookup per side table and attempt. As plain joins, the plan depends
// on statistics: a prepared statement's generic plan for a business
// order's attempts, on tables not analysed yet (a new deployment, or any
// table between two autovacuum runs on a busy one), hashed every side
// table after reading it whole, order_money included, which grows with
// every payment, on every fulfilment (issue 18.8).
func selectOrders(d Dialect, p string) string { return selectOrdersWith(d, p, "") }

// selectOrdersWith is selectOrders with more columns, extra (", x, y"),
// after those scanOrder reads.
func selectOrdersWith(d Dialect, p, extra string) string {
	head := "SELECT o." + strings.ReplaceAll(columns, ", ", ", o.") + ", s.next_due, b.buyer, e.expires_at, m.out_trade_no, m." +
		strings.ReplaceAll(moneyColumns, ", ", ", m.") + ", a.abandoned_at" + extra + " FROM " + p + "orders o"
	side := []struct{ alias, table, cols string }{
		{"s", "schedule", "next_due"},
		{"b", "order_buyers", "buyer"},
		{"e", "order_expiries", "expires_at"},
		{"m", "order_money", "out_trade_no, " + moneyColumns},
		{"a", "order_abandons", "abandoned_at"},
	}
	var b strings.Builder
	b.WriteString(head)
	for _, t := range side {
		if d == Postgres {
			fmt.Fprintf(&b, " LEFT JOIN LATERAL (SELECT %[4]s FROM %[1]s%[2]s WHERE %[1]s%[2]s.out_trade_no = o.out_trade_no LIMIT 1) %[3]s ON TRUE",
				p, t.table, t.alias, t.cols)
		} else {
			fmt.Fprintf(&b, " LEFT JOIN %[1]s%[2]s %[3]s ON %[3]s.out_trade_no = o.out_trade_no", p, t.table, t.alias)
		}
	}
	return b.String()
}

func buildQueries(d Dialect, p string, skew time.Duration) queries {
	t := p + "orders"
	r := func(format string, args ...any) string { return rebind(d, fmt.Sprintf(format, args...)) }
	sel := selectOrders(d, p)
	q := queries{
		schedule: buildScheduleQueries(d, p),
		insert: r("INSERT INTO %s (%s) VALUES (%s)", t, columns,
			strings.TrimSuffix(strings.Repeat("?, ", strings.Count(columns, ",")+1), ", ")),
		insertBuyer:   r("INSERT INTO %sorder_buyers (out_trade_no, buyer) VALUES (?, ?)", p),
		insertExpiry:  r("INSERT INTO %sorder_expiries (out_trade_no, expires_at) VALUES (?, ?)", p),
		deleteMoney:   r("DELETE FROM %sorder_money WHERE out_trade_no = ?", p),
		insertMoney:   r("INSERT INTO %sorder_money (out_trade_no, %s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", p, moneyColumns),
		insertAbandon: r("INSERT INTO %sorder_abandons (out_trade_no, abandoned_at) VALUES (?, ?)", p),
		// abandon always changes reason (never empty, and the attempt is
		// not abandoned yet), so MySQL's count of changed rows is 1.
		abandon: r("UPDATE %s SET reason = ?, updated_at = ? WHERE out_trade_no = ? AND %s", t,
			onRow(d, fmt.Sprintf("status = '%s' AND NOT EXISTS (SELECT 1 FROM %sorder_abandons a WHERE a.out_trade_no = ?)", store.Pending, p))),
		isAbandoned: r("SELECT 1 FROM %sorder_abandons WHERE out_trade_no = ?", p),
		reverse: r("UPDATE %s SET status = '%s', reason = ?, updated_at = ? WHERE out_trade_no = ? AND %s", t, store.Reversed,
			onRow(d, fmt.Sprintf("(status = '%s' OR status = '%s' AND EXISTS (SELECT 1 FROM %sorder_abandons a WHERE a.out_trade_no = ?))",
				store.Pending, store.Paid, p))),
		get:            r("%s WHERE o.out_trade_no = ?", sel),
		listByBusiness: r("%s WHERE o.business_id = ? ORDER BY o.attempt, o.out_trade_no", sel),
		setCheckout:    r("UPDATE %s SET code_url = ?, pay_info = ?, updated_at = ? WHERE out_trade_no = ?", t),
		exists:         r("SELECT 1 FROM %s WHERE out_trade_no = ?", t),
		settle: r("UPDATE %s SET status = '%s', transaction_id = ?, channel_transaction_id = ?, paid_at = ?, updated_at = ? "+
			"WHERE out_trade_no = ? AND %s", t, store.Paid, onRow(d, "status = '"+string(store.Pending)+"'")),
		classify: r("SELECT status, transaction_id FROM %s WHERE out_trade_no = ?", t),
		markFulfilled: r("UPDATE %s SET fulfilled = 1, fulfilled_at = ?, updated_at = ? "+
			"WHERE out_trade_no = ? AND %s", t, onRow(d, "status = '"+string(store.Paid)+"' AND fulfilled = 0")),
		// touchNothing matches no row: Finish's lookup for a bad target.
		touchNothing: r("UPDATE %s SET updated_at = updated_at WHERE out_trade_no = ? AND 1 = 0", t),
		finish: r("UPDATE %s SET status = ?, reason = ?, updated_at = ? WHERE out_trade_no = ? AND %s",
			t, onRow(d, "status = '"+string(store.Pending)+"'")),
	}
	q.settleThen, q.markThen = q.schedule.toFulfil, q.schedule.toNone
	foldSchedule(d, p, &q)
	if d == Postgres {
		q.settleLease, q.settleLeaseMoney = settleLeaseQueries(p, skew)
		q.readSettleLease, q.readSettleLeaseMoney = readSettleLeaseQueries(p, skew)
		q.disownRead = rebind(Postgres, fmt.Sprintf("DELETE FROM %[1]sleases WHERE name = "+
			"(SELECT CAST(? AS TEXT) || business_id FROM %[1]sorders WHERE out_trade_no = ?) AND token = ?", p))
	}
	return q
}

// settleLeaseQueries are PostgreSQL's SettleAndTryAcquire in one
// statement (issue 18.8), without and with the payment's money facts: the
// settle's compare-and-set (… WHERE status = 'PENDING'), and only for the
// row it changed, the schedule's move to fulfilment work, the money facts
// (deleted, or written over whatever the attempt was created with) and
// the lease (Locker.take's insert, which overwrites a row only once it has
// been expired for skew). Every part after the first reads the attempt
// from the settle's RETURNING, so none runs when the compare-and-set did
// not match. It answers with the attempts settled and the leases taken.
// Arguments: transaction_id, channel_transaction_id, paid_at, updated_at,
// out_trade_no, then (money) coupon_fee, cash_fee, fee_type, bank_type,
// sub_appid, wx_mch_id, wx_sub_mch_id, then the lease's name, token and
// ttl in microseconds.
func settleLeaseQueries(p string, skew time.Duration) (plain, money string) {
	counts := "SELECT (SELECT COUNT(*) FROM so), (SELECT COUNT(*) FROM sl)"
	plain, money = settleLeaseCTEs(p, skew, "", "CAST(? AS TEXT)")
	return rebind(Postgres, plain+counts), rebind(Postgres, money+counts)
}

// readSettleLeaseQueries are PostgreSQL's ReadSettleAndTryAcquire in one
// statement (issue 18.8): settleLeaseQueries' data-modifying CTEs, whose
// compare-and-set also requires the merchant, the amount and one of two
// versions, and whose lease is named by a prefix and the attempt's
// business id; the statement answers with the attempt read as Get reads
// it, then the attempts settled and the leases taken. Every part of one
// statement reads the same snapshot, taken before any part ran, so the
// attempt is answered as it was before the settlement: the row the
// compare-and-set tested, or, when a concurrent settlement committed
// first, the PENDING row it replaced (the compare-and-set then matches
// nothing). No row: no such attempt. Arguments: settleLeaseQueries'
// first five, then mch_id, amount and the two versions, then (money) the
// seven money facts, then the lease's name prefix, token and ttl in
// microseconds, then out_trade_no again.
func readSettleLeaseQueries(p string, skew time.Duration) (plain, money string) {
	match := " AND mch_id = ? AND amount = ? AND version IN (?, ?)"
	read := selectOrdersWith(Postgres, p, ", (SELECT COUNT(*) FROM so), (SELECT COUNT(*) FROM sl)") + " WHERE o.out_trade_no = ?"
	plain, money = settleLeaseCTEs(p, skew, match, "CAST(? AS TEXT) || business_id")
	return rebind(Postgres, plain+read), rebind(Postgres, money+read)
}

// settleLeaseCTEs are the data-modifying CTEs of settleLeaseQueries and
// readSettleLeaseQueries, up to the statement's SELECT: match is added to
// the compare-and-set's WHERE, and name is the lease name's expression
// (over the settled row's out_trade_no and business_id). The CTEs are
// named so, ss, sm and sl, none of them an alias of selectOrders.
func settleLeaseCTEs(p string, skew time.Duration, match, name string) (plain, money string) {
	now := nowMicros(Postgres)
	head := fmt.Sprintf("WITH so AS (UPDATE %[1]sorders SET status = '%[2]s', transaction_id = ?, channel_transaction_id = ?, "+
		"paid_at = ?, updated_at = ? WHERE out_trade_no = ? AND (status = '%[3]s'%[5]s) IS TRUE RETURNING out_trade_no, business_id), "+
		"ss AS (UPDATE %[1]sschedule SET kind = '%[4]s' WHERE out_trade_no IN (SELECT out_trade_no FROM so)), ",
		p, store.Paid, store.Pending, store.KindFulfil, match)
	tail := fmt.Sprintf("sl AS (INSERT INTO %[1]sleases (name, token, expires_at) "+
		"SELECT %[4]s, CAST(? AS TEXT), %[2]s + CAST(? AS BIGINT) FROM so "+
		"ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at "+
		"WHERE %[1]sleases.%[3]s RETURNING 1) ", p, now, leaseExpired(Postgres, skew), name)
	cols := strings.Split(moneyColumns, ", ")
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = c + " = excluded." + c
	}
	plain = head + fmt.Sprintf("sm AS (DELETE FROM %sorder_money WHERE out_trade_no IN (SELECT out_trade_no FROM so)), ", p) + tail
	money = head + fmt.Sprintf("sm AS (INSERT INTO %sorder_money (out_trade_no, %s) "+
		"SELECT out_trade_no, CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), "+
		"CAST(? AS TEXT), CAST(? AS TEXT) FROM so ON CONFLICT (out_trade_no) DO UPDATE SET %s), ",
		p, moneyColumns, strings.Join(set, ", ")) + tail
	return plain, money
}

// foldSchedule makes settle and markFulfilled move the attempt's schedule
// row in the same statement, where the server can update two tables at
// once, so that each costs one statement instead of two (issue 18.8): a
// data-modifying CTE on PostgreSQL, which then answers with the number of
// attempts it changed (see change), and a multi-table UPDATE on the MySQL
// dialect, whose affected rows count both tables. The schedule row is
// joined, not required: an attempt recorded before the schedule existed
// still settles. SQLite keeps the two statements.
func foldSchedule(d Dialect, p string, q *queries) {
	t, sched := p+"orders", p+"schedule"
	r := func(format string, args ...any) string { return rebind(d, fmt.Sprintf(format, args...)) }
	settleSet := "status = '" + string(store.Paid) + "', transaction_id = ?, channel_transaction_id = ?, paid_at = ?, updated_at = ?"
	markSet := "fulfilled = 1, fulfilled_at = ?, updated_at = ?"
	switch d {
	case Postgres:
		cte := "WITH o AS (UPDATE %[1]s SET %[3]s WHERE out_trade_no = ? AND %[4]s RETURNING out_trade_no), " +
			"s AS (UPDATE %[2]s SET kind = '%[5]s' WHERE out_trade_no IN (SELECT out_trade_no FROM o))%[6]s SELECT COUNT(*) FROM o"
		// Settle also clears the money facts the attempt was created with
		// (the payment's own replace them): a third table, same statement.
		clear := ", m AS (DELETE FROM " + p + "order_money WHERE out_trade_no IN (SELECT out_trade_no FROM o))"
		q.settle = r(cte, t, sched, settleSet, onRow(d, "status = '"+string(store.Pending)+"'"), store.KindFulfil, clear)
		q.markFulfilled = r(cte, t, sched, markSet, onRow(d, "status = '"+string(store.Paid)+"' AND fulfilled = 0"), "", "")
		q.settleClearsMoney = true
		q.markRelease = r("WITH o AS (UPDATE %[1]s SET %[3]s WHERE out_trade_no = ? AND (status = '%[4]s' AND fulfilled = 0) IS TRUE RETURNING out_trade_no), "+
			"s AS (UPDATE %[2]s SET kind = '' WHERE out_trade_no IN (SELECT out_trade_no FROM o)), "+
			"l AS (DELETE FROM %[5]sleases WHERE name = ? AND token = ? AND expires_at > %[6]s AND EXISTS (SELECT 1 FROM o) RETURNING 1) "+
			"SELECT (SELECT COUNT(*) FROM o), (SELECT COUNT(*) FROM l)", t, sched, markSet, store.Paid, p, nowMicros(d))
	case MySQL:
		cols := strings.Split(moneyColumns, ", ")
		for i, c := range cols {
			cols[i] = c + " = VALUES(" + c + ")"
		}
		q.replaceMoney = q.insertMoney + " ON DUPLICATE KEY UPDATE " + strings.Join(cols, ", ")
		join := "UPDATE %[1]s o LEFT JOIN %[2]s s ON s.out_trade_no = o.out_trade_no SET %[3]s, s.kind = '%[5]s' " +
			"WHERE o.out_trade_no = ? AND %[4]s"
		q.settle = r(join, t, sched, "o."+strings.ReplaceAll(settleSet, ", ", ", o."), "o.status = '"+string(store.Pending)+"'", store.KindFulfil)
		q.markFulfilled = r(join, t, sched, "o."+strings.ReplaceAll(markSet, ", ", ", o."), "o.status = '"+string(store.Paid)+"' AND o.fulfilled = 0", "")
		// The lease's row is joined, not left-joined: without the lease
		// nothing is marked, and the caller falls back to the
		// transaction that tells why. Released is an empty token and
		// expired: no token is empty, and a take overwrites an expired row.
		q.markRelease = r("UPDATE %[1]s o JOIN %[3]sleases l ON l.name = ? AND l.token = ? AND l.expires_at > %[4]s "+
			"LEFT JOIN %[2]s s ON s.out_trade_no = o.out_trade_no "+
			"SET o.fulfilled = 1, o.fulfilled_at = ?, o.updated_at = ?, s.kind = '', l.token = '', l.expires_at = 0 "+
			"WHERE o.out_trade_no = ? AND o.status = '%[5]s' AND o.fulfilled = 0", t, sched, p, nowMicros(d), store.Paid)
	default:
		return
	}
	q.settleThen, q.markThen = "", ""
}

// change runs a compare-and-set statement on q and returns how many rows
// it changed: its affected rows, or, for PostgreSQL's data-modifying CTEs
// (which begin with WITH), the count the statement selects.
func change(ctx context.Context, q execer, statement string, args ...any) (int64, error) {
	if strings.HasPrefix(statement, "WITH ") {
		var n int64
		err := q.QueryRowContext(ctx, statement, args...).Scan(&n)
		return n, err
	}
	res, err := q.ExecContext(ctx, statement, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// onRow is cond, a compare-and-set's test of the attempt's status beside
// its key (… WHERE out_trade_no = ? AND cond), in a form no index can
// serve on PostgreSQL, so that the attempt is only ever found by its key.
// As plain conditions, the generic plan of a prepared statement on tables
// never analysed could find it through orders_status_paid (status,
// fulfilled, paid_at) instead, reading every PAID unfulfilled attempt
// and every index entry earlier fulfilments left dead: four times the
// cost of a fulfilment's record in BenchmarkFreshSettlement, and growing
// with the backlog (TestWritePlansUseTheKey). "(cond) IS TRUE" holds
// exactly when cond does in a WHERE clause (NULL is not true either way).
// The other engines find a row by its primary key when the key is given.
func onRow(d Dialect, cond string) string {
	if d != Postgres {
		return cond
	}
	return "(" + cond + ") IS TRUE"
}

// micros is how a time is stored: microseconds since the Unix epoch.
// Truncating (not rounding) keeps a stored instant at or before the real
// one, and the zero time survives the round trip.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros stores the zero time as NULL, for columns that may be unset.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Create records a new attempt, its schedule row, its buyer fingerprint
// (when Buyer is set) and its expiry (when ExpiresAt is set) in one
// transaction;
// an existing OutTradeNo, or an existing (BusinessID, Attempt) pair, is
// store.ErrExists.
func (s *Store) Create(ctx context.Context, o *store.Order) error {
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "create", err)
	}
	if o == nil {
		return errors.New("sqlstore: create: nil order")
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q.insert,
			o.OutTradeNo, o.BusinessID, o.Attempt, o.MchID, string(o.Channel), o.TradeType, string(o.Version),
			o.Amount, string(o.Status), o.TransactionID, o.ChannelTransactionID, nullMicros(o.PaidAt),
			flag(o.Fulfilled), nullMicros(o.FulfilledAt), o.CodeURL, o.PayInfo, o.Reason,
			micros(o.CreatedAt), micros(o.UpdatedAt))
		if err == nil {
			_, err = tx.ExecContext(ctx, s.q.schedule.insert,
				o.OutTradeNo, string(kindOf(o)), micros(o.NextDue), micros(o.CreatedAt))
		}
		if err == nil && o.Buyer != "" {
			_, err = tx.ExecContext(ctx, s.q.insertBuyer, o.OutTradeNo, o.Buyer)
		}
		if err == nil && !o.ExpiresAt.IsZero() {
			_, err = tx.ExecContext(ctx, s.q.insertExpiry, o.OutTradeNo, micros(o.ExpiresAt))
		}
		if err == nil && o.Money.Recorded {
			err = s.insertMoney(ctx, tx, o.OutTradeNo, o.Money)
		}
		if err == nil && !o.AbandonedAt.IsZero() {
			_, err = tx.ExecContext(ctx, s.q.insertAbandon, o.OutTradeNo, micros(o.AbandonedAt))
		}
		return err
	})
	if err != nil {
		if isUniqueViolation(s.dialect, err) {
			return fmt.Errorf("sqlstore: create %s: %w", o.OutTradeNo, store.ErrExists)
		}
		return s.fail(ctx, "create "+o.OutTradeNo, err)
	}
	return nil
}

// insertMoney records an attempt's money facts in tx.
func (s *Store) insertMoney(ctx context.Context, tx *sql.Tx, outTradeNo string, m store.MoneyFacts) error {
	_, err := s.on(tx).ExecContext(ctx, s.q.insertMoney, outTradeNo,
		m.CouponFee, m.CashFee, m.FeeType, m.BankType, m.SubAppID, m.WxMchID, m.WxSubMchID)
	return err
}

type scanner interface{ Scan(dest ...any) error }

func scanOrder(sc scanner) (*store.Order, error) {
	var (
		o                        store.Order
		channel, version, status string
		fulfilled                int
		paidAt, fulfilledAt      sql.NullInt64
		createdAt, updatedAt     int64
		nextDue                  sql.NullInt64
		buyer                    sql.NullString
		expiresAt, abandonedAt   sql.NullInt64
		moneyRow                 sql.NullString
		coupon, cash             sql.NullInt64
		money                    [5]sql.NullString
	)
	err := sc.Scan(&o.OutTradeNo, &o.BusinessID, &o.Attempt, &o.MchID, &channel, &o.TradeType, &version,
		&o.Amount, &status, &o.TransactionID, &o.ChannelTransactionID, &paidAt,
		&fulfilled, &fulfilledAt, &o.CodeURL, &o.PayInfo, &o.Reason, &createdAt, &updatedAt, &nextDue, &buyer, &expiresAt,
		&moneyRow, &coupon, &cash, &money[0], &money[1], &money[2], &money[3], &money[4], &abandonedAt)
	if err != nil {
		return nil, err
	}
	o.Channel = model.PayType(channel)
	o.Version = model.Version(version)
	o.Status = store.Status(status)
	o.PaidAt = fromNullMicros(paidAt)
	o.Fulfilled = fulfilled != 0
	o.FulfilledAt = fromNullMicros(fulfilledAt)
	o.CreatedAt = fromMicros(createdAt)
	o.UpdatedAt = fromMicros(updatedAt)
	if nextDue.Valid {
		o.NextDue = fromMicros(nextDue.Int64)
	}
	o.Buyer = buyer.String                  // no row: "" (not JSPAY, or recorded before version 5)
	o.ExpiresAt = fromNullMicros(expiresAt) // no row: zero (recorded before version 6)
	if moneyRow.Valid {                     // no row: not recorded (unpaid, or settled before version 7)
		o.Money = store.MoneyFacts{Recorded: true, CouponFee: coupon.Int64, CashFee: cash.Int64,
			FeeType: money[0].String, BankType: money[1].String, SubAppID: money[2].String,
			WxMchID: money[3].String, WxSubMchID: money[4].String}
	}
	o.AbandonedAt = fromNullMicros(abandonedAt) // no row: not abandoned
	return &o, nil
}

// Get returns the attempt, or store.ErrNotFound. Times come back in UTC.
func (s *Store) Get(ctx context.Context, outTradeNo string) (*store.Order, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "get "+outTradeNo, err)
	}
	o, err := scanOrder(s.on(nil).QueryRowContext(ctx, s.q.get, outTradeNo))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: get %s: %w", outTradeNo, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.fail(ctx, "get "+outTradeNo, err)
	}
	return o, nil
}

func (s *Store) list(ctx context.Context, op, query string, args ...any) ([]*store.Order, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	rows, err := s.on(nil).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	out := []*store.Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// ListByBusinessID returns the business order's attempts by Attempt.
func (s *Store) ListByBusinessID(ctx context.Context, businessID string) ([]*store.Order, error) {
	return s.list(ctx, "list attempts of "+businessID, s.q.listByBusiness, businessID)
}

// SetCheckout stores the pre-order's code_url and pay_info, whatever the
// attempt's status.
func (s *Store) SetCheckout(ctx context.Context, outTradeNo, codeURL, payInfo string, now time.Time) error {
	op := "set checkout of " + outTradeNo
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, op, err)
	}
	res, err := s.db.ExecContext(ctx, s.q.setCheckout, codeURL, payInfo, micros(now), outTradeNo)
	if err != nil {
		return s.fail(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, op, err)
	}
	if n > 0 {
		return nil
	}
	// MySQL counts changed rows, not matched ones: 0 may mean "same values".
	var one int
	err = s.db.QueryRowContext(ctx, s.q.exists, outTradeNo).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return s.fail(ctx, op, err)
	}
	return nil
}

// casTries bounds the retries of a compare-and-set whose UPDATE matched
// nothing while its follow-up read found the attempt PENDING: that only
// happens when the attempt was created between the two statements.
const casTries = 3

// cas runs one conditional UPDATE (update, with args) on outTradeNo in a
// transaction of its own. If it changed the row, cas commits and reports
// applied. Otherwise it reads the attempt's status and transaction id in
// the same transaction, so the caller can tell why it did not match; an
// unknown attempt is store.ErrNotFound. When the UPDATE applied and then
// is not empty, then runs in the same transaction with outTradeNo: it
// keeps the schedule's kind in step with the status; and so does also,
// when not nil, to write what belongs with the change (Settle's money
// facts).
//
// The transaction is what makes an error trustworthy: if the caller's ctx
// ends or the connection drops while the UPDATE waits for a row lock, the
// server may still run the UPDATE later, but never commits it. A bare
// autocommit UPDATE would be applied behind the back of a caller that had
// already been told it failed.
func (s *Store) cas(ctx context.Context, outTradeNo, then string, also func(*sql.Tx) error, update string, args ...any) (applied bool, status store.Status, txID string, err error) {
	if err := ctx.Err(); err != nil {
		return false, "", "", err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		applied, status, txID = false, "", ""
		n, err := change(ctx, s.on(tx), update, args...)
		if err != nil {
			return err
		}
		if n > 0 { // the attempt's row, and its schedule row where update folds it in
			applied = true
			if then != "" {
				_, err = s.on(tx).ExecContext(ctx, then, outTradeNo)
			}
			if err == nil && also != nil {
				err = also(tx)
			}
			return err
		}
		var st string
		err = s.on(tx).QueryRowContext(ctx, s.q.classify, outTradeNo).Scan(&st, &txID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		status = store.Status(st)
		return err
	})
	if err != nil {
		return false, "", "", err
	}
	return applied, status, txID, nil
}

// failCAS wraps an error from cas, leaving store.ErrNotFound unwrapped by
// the context so that errors.Is sees the sentinel.
func (s *Store) failCAS(ctx context.Context, op string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return s.fail(ctx, op, err)
}

// Settle moves the attempt from PENDING to PAID with one conditional
// UPDATE (… WHERE status = 'PENDING'), which is the compare-and-set: the
// database lets exactly one of any number of concurrent UPDATEs match.
// Only when it matched nothing does Settle read the row, in the same
// transaction, to tell a repeat with the same TransactionID (false, nil)
// from anything else (ErrConflict). It never reads before it writes.
//
// An error means the attempt was not settled by this call, except in the
// narrow case of a connection lost during COMMIT; a retry then reports
// (false, nil), so a caller retrying on error stays correct.
func (s *Store) Settle(ctx context.Context, outTradeNo string, p store.Payment, now time.Time) (bool, error) {
	return s.settle(ctx, outTradeNo, p, now, nil)
}

// settle is Settle; also, if not nil, runs last in the transaction that
// makes the attempt PAID, and only in that one.
func (s *Store) settle(ctx context.Context, outTradeNo string, p store.Payment, now time.Time, also func(*sql.Tx) error) (bool, error) {
	op := "settle " + outTradeNo
	// The payment's money facts replace any the attempt was created with,
	// in the transaction that makes it PAID.
	money := func(tx *sql.Tx) (err error) {
		m := p.Money
		switch {
		case m.Recorded && s.q.replaceMoney != "":
			_, err = s.on(tx).ExecContext(ctx, s.q.replaceMoney, outTradeNo,
				m.CouponFee, m.CashFee, m.FeeType, m.BankType, m.SubAppID, m.WxMchID, m.WxSubMchID)
		default:
			if !s.q.settleClearsMoney {
				_, err = s.on(tx).ExecContext(ctx, s.q.deleteMoney, outTradeNo)
			}
			if err == nil && m.Recorded {
				err = s.insertMoney(ctx, tx, outTradeNo, m)
			}
		}
		if err == nil && also != nil {
			err = also(tx)
		}
		return err
	}
	for try := 0; try < casTries; try++ {
		applied, status, txID, err := s.cas(ctx, outTradeNo, s.q.settleThen, money, s.q.settle,
			p.TransactionID, p.ChannelTransactionID, nullMicros(p.PaidAt), micros(now), outTradeNo)
		switch {
		case err != nil:
			return false, s.failCAS(ctx, op, err)
		case applied:
			return true, nil
		}
		if done, err := unsettled(op, status, txID, p); done {
			return false, err
		}
	}
	return false, fmt.Errorf("sqlstore: %s: attempt stayed PENDING after %d tries", op, casTries)
}

// unsettled classifies a settlement whose compare-and-set matched nothing,
// by the attempt's status and transaction id as read after it: a repeat of
// the same payment (nil), or ErrConflict. done is false while the attempt
// is still PENDING (created after the compare-and-set): try again.
func unsettled(op string, status store.Status, txID string, p store.Payment) (done bool, err error) {
	switch {
	case (status == store.Paid || status == store.Refunded) && txID == p.TransactionID:
		return true, nil
	case status == store.Paid || status == store.Refunded:
		return true, fmt.Errorf("sqlstore: %s: paid by another transaction: %w", op, store.ErrConflict)
	case status != store.Pending:
		return true, fmt.Errorf("sqlstore: %s: attempt is %s: %w", op, status, store.ErrConflict)
	}
	return false, nil
}

// MarkFulfilled records the fulfilment of a PAID attempt with a
// conditional UPDATE (… AND fulfilled = 0); repeating it keeps the first
// FulfilledAt and returns nil.
//
// Where the UPDATE also moves the schedule (foldSchedule) it runs on its
// own, without a transaction: one statement is atomic, and this one may
// land even after its caller was told it failed, because what it records
// (the hook returned nil) is already true. Only when it changed nothing
// does a read tell a repeat from a conflict.
func (s *Store) MarkFulfilled(ctx context.Context, outTradeNo string, now time.Time) error {
	op := "mark fulfilled " + outTradeNo
	var (
		applied bool
		status  store.Status
		err     error
	)
	if s.q.markThen != "" {
		applied, status, _, err = s.cas(ctx, outTradeNo, s.q.markThen, nil, s.q.markFulfilled, micros(now), micros(now), outTradeNo)
	} else {
		applied, status, err = s.casAlone(ctx, outTradeNo, s.q.markFulfilled, micros(now), micros(now), outTradeNo)
	}
	switch {
	case err != nil:
		return s.failCAS(ctx, op, err)
	case applied, status == store.Paid:
		// PAID but not matched by fulfilled = 0: already recorded.
		return nil
	default:
		return fmt.Errorf("sqlstore: %s: attempt is %s: %w", op, status, store.ErrConflict)
	}
}

// casAlone is cas without the transaction, for a compare-and-set whose
// late success is harmless: the statement runs alone (again when it lost
// to a concurrent transaction), and only when it changed nothing is the
// attempt's status read, afterwards, for the caller to classify.
func (s *Store) casAlone(ctx context.Context, outTradeNo, update string, args ...any) (applied bool, status store.Status, err error) {
	if err := ctx.Err(); err != nil {
		return false, "", err
	}
	var n int64
	err = retryConflicts(ctx, s.dialect, func() (err error) {
		n, err = change(ctx, s.db, update, args...)
		return err
	})
	if err != nil || n > 0 {
		return n > 0, "", err
	}
	var st, txID string
	err = s.db.QueryRowContext(ctx, s.q.classify, outTradeNo).Scan(&st, &txID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", store.ErrNotFound
	}
	return false, store.Status(st), err
}

// Finish moves a PENDING attempt to FAILED or CLOSED with a conditional
// UPDATE, classified like Settle's when it matches nothing. Another target
// status is ErrConflict (ErrNotFound for an unknown attempt), as in
// memstore.
func (s *Store) Finish(ctx context.Context, outTradeNo string, status store.Status, reason string, now time.Time) error {
	op := "finish " + outTradeNo
	update := s.q.finish
	args := []any{string(status), reason, micros(now), outTradeNo}
	badTarget := status != store.Failed && status != store.Closed
	if badTarget {
		// Still look the attempt up, so an unknown one is ErrNotFound.
		update, args = s.q.touchNothing, []any{outTradeNo}
	}
	for try := 0; try < casTries; try++ {
		applied, current, _, err := s.cas(ctx, outTradeNo, s.q.schedule.toNone, nil, update, args...)
		switch {
		case err != nil:
			return s.failCAS(ctx, op, err)
		case applied:
			return nil
		case badTarget:
			return fmt.Errorf("sqlstore: %s: target status %q: %w", op, status, store.ErrConflict)
		case current != store.Pending:
			return fmt.Errorf("sqlstore: %s: attempt is %s: %w", op, current, store.ErrConflict)
		}
	}
	return fmt.Errorf("sqlstore: %s: attempt stayed PENDING after %d tries", op, casTries)
}

// Abandon marks a PENDING attempt abandoned: one conditional UPDATE of the
// attempt's row (… WHERE status = 'PENDING'), the same compare-and-set
// Settle makes, and the order_abandons row in the same transaction. A
// repeat finds the row and changes nothing.
func (s *Store) Abandon(ctx context.Context, outTradeNo, reason string, now time.Time) error {
	op := "abandon " + outTradeNo
	if reason == "" {
		return fmt.Errorf("sqlstore: %s: empty reason", op)
	}
	for try := 0; try < casTries; try++ {
		var applied, marked bool
		var status store.Status
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			applied, marked, status = false, false, ""
			res, err := tx.ExecContext(ctx, s.q.abandon, reason, micros(now), outTradeNo, outTradeNo)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 1 {
				applied = true
				_, err = tx.ExecContext(ctx, s.q.insertAbandon, outTradeNo, micros(now))
				return err
			}
			var st, txID string
			err = tx.QueryRowContext(ctx, s.q.classify, outTradeNo).Scan(&st, &txID)
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			status = store.Status(st)
			var one int
			err = tx.QueryRowContext(ctx, s.q.isAbandoned, outTradeNo).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			marked = err == nil
			return err
		})
		switch {
		case err != nil:
			return s.failCAS(ctx, op, err)
		case applied, status == store.Pending && marked:
			return nil
		case status != store.Pending:
			return fmt.Errorf("sqlstore: %s: attempt is %s: %w", op, status, store.ErrConflict)
		}
	}
	return fmt.Errorf("sqlstore: %s: attempt stayed PENDING and unmarked after %d tries", op, casTries)
}

// Reverse records a payment reversed by a cancel: one conditional UPDATE
// from PENDING, or from PAID when the attempt is abandoned, classified
// like Settle's when it matches nothing; the schedule has nothing left to
// do for it.
func (s *Store) Reverse(ctx context.Context, outTradeNo, reason string, now time.Time) error {
	op := "reverse " + outTradeNo
	for try := 0; try < casTries; try++ {
		applied, status, _, err := s.cas(ctx, outTradeNo, s.q.schedule.toNone, nil, s.q.reverse,
			reason, micros(now), outTradeNo, outTradeNo)
		switch {
		case err != nil:
			return s.failCAS(ctx, op, err)
		case applied, status == store.Reversed:
			return nil
		case status != store.Pending:
			return fmt.Errorf("sqlstore: %s: attempt is %s: %w", op, status, store.ErrConflict)
		}
	}
	return fmt.Errorf("sqlstore: %s: attempt stayed PENDING after %d tries", op, casTries)
}
