package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/cypaykit/kit/store"
)

var _ store.Scheduler = (*Store)(nil)

// scheduleQueries are the statements on <prefix>schedule. Each takes the
// table's key column as out_trade_no; a refund table would repeat them on
// its own schedule table, with its own kinds.
type scheduleQueries struct {
	insert, toFulfil, toNone string
	// claim is PostgreSQL's one-statement claim; elsewhere due (a read,
	// locking where the server honours the lock) and then a conditional
	// mark run in one transaction.
	claim, due         string
	reschedule, exists string
	table              string
}

func buildScheduleQueries(d Dialect, p string) scheduleQueries {
	t := p + "schedule"
	r := func(format string, args ...any) string { return rebind(d, fmt.Sprintf(format, args...)) }
	pick := fmt.Sprintf("SELECT out_trade_no, next_due, claim_token FROM %s WHERE kind = ? AND next_due <= ? AND created_at > ? "+
		"ORDER BY next_due, out_trade_no LIMIT ?", t)
	return scheduleQueries{
		table:  t,
		insert: r("INSERT INTO %s (out_trade_no, kind, next_due, claim_token, created_at) VALUES (?, ?, ?, '', ?)", t),
		// A settled attempt becomes fulfilment work, keeping its due time.
		toFulfil: r("UPDATE %s SET kind = '%s' WHERE out_trade_no = ?", t, store.KindFulfil),
		toNone:   r("UPDATE %s SET kind = '' WHERE out_trade_no = ?", t),
		// The subquery's FOR UPDATE SKIP LOCKED passes over rows another
		// claim is taking right now instead of queueing behind it; the
		// outer conditions still only mark a row unchanged since the read.
		// The claimed attempts come back in the same round trip: the
		// UPDATE is a CTE the orders are joined to.
		claim: r("WITH claimed AS (UPDATE %[1]s AS s SET next_due = ?, claim_token = ? FROM (%[2]s FOR UPDATE SKIP LOCKED) AS c "+
			"WHERE s.out_trade_no = c.out_trade_no AND s.next_due = c.next_due AND s.claim_token = c.claim_token AND s.kind = ? "+
			"RETURNING s.out_trade_no, c.next_due AS due, s.next_due) "+
			"SELECT claimed.due, o.%[3]s, claimed.next_due, b.buyer, e.expires_at, m.out_trade_no, m.%[5]s, a.abandoned_at FROM claimed JOIN %[4]sorders o ON o.out_trade_no = claimed.out_trade_no "+
			"LEFT JOIN %[4]sorder_buyers b ON b.out_trade_no = claimed.out_trade_no "+
			"LEFT JOIN %[4]sorder_expiries e ON e.out_trade_no = claimed.out_trade_no "+
			"LEFT JOIN %[4]sorder_money m ON m.out_trade_no = claimed.out_trade_no "+
			"LEFT JOIN %[4]sorder_abandons a ON a.out_trade_no = claimed.out_trade_no",
			t, pick, strings.ReplaceAll(columns, ", ", ", o."), p, strings.ReplaceAll(moneyColumns, ", ", ", m.")),
		due:        r("%s", pick),
		reschedule: r("UPDATE %s SET next_due = ?, claim_token = '' WHERE out_trade_no = ? AND claim_token = ?", t),
		exists:     r("SELECT 1 FROM %s WHERE out_trade_no = ?", t),
	}
}

// kindOf is the work an attempt is, by its status.
func kindOf(o *store.Order) store.Kind {
	switch {
	case o.Status == store.Pending:
		return store.KindQuery
	case o.Status == store.Paid && !o.Fulfilled:
		return store.KindFulfil
	}
	return ""
}

// claimed is one row a claim took, with its due time before the claim.
type claimed struct {
	key string
	due int64
}

// claimRounds bounds the reads of one Claim: a round that lost rows to a
// concurrent claim reads again for the rest, so that two instances
// reading the same due rows do not leave one of them idle.
const claimRounds = 4

// Claim implements store.Scheduler. Whatever the server, a row is only
// taken by a mark conditional on what the claim read (its kind, due time
// and last claim token), keeping only the rows the mark changed: two
// claims that read the same rows cannot both take one, even on a server
// that ignores the read's lock. On PostgreSQL it is one UPDATE over a
// FOR UPDATE SKIP LOCKED subquery; on the MySQL dialect a transaction that
// reads the due rows (FOR UPDATE SKIP LOCKED on MySQL 8 and MariaDB 10.6
// or later, FOR UPDATE on older ones, no lock on TiDB and OceanBase) and
// marks them; on SQLite, a single writer, the same under BEGIN
// IMMEDIATE. Either way the read goes down the (kind, next_due) index and
// stops at Limit, so a claim costs what is due, not the backlog.
func (s *Store) Claim(ctx context.Context, r store.ClaimRequest) ([]store.Claim, error) {
	op := "claim " + string(r.Kind)
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	if r.Lease < time.Millisecond {
		return nil, fmt.Errorf("sqlstore: %s: %w, got %v", op, store.ErrLease, r.Lease)
	}
	if r.Kind != store.KindQuery && r.Kind != store.KindFulfil {
		return nil, fmt.Errorf("sqlstore: %s: unknown kind", op)
	}
	if r.Limit < 1 {
		return []store.Claim{}, nil
	}
	sv, err := s.Server(ctx)
	if err != nil {
		return nil, err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("sqlstore: %s: token: %w", op, err)
	}
	token := hex.EncodeToString(b[:])
	createdAfter := int64(math.MinInt64)
	if !r.CreatedAfter.IsZero() {
		createdAfter = micros(r.CreatedAfter)
	}
	until := micros(r.Now.Add(r.Lease))
	if s.dialect == Postgres {
		var out []store.Claim
		err := retryConflicts(ctx, s.dialect, func() (err error) {
			out, err = s.claimPostgres(ctx, r.Kind, token, until, []any{string(r.Kind), micros(r.Now), createdAfter, r.Limit})
			return err
		})
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		return out, nil
	}
	var rows []claimed
	for round := 0; round < claimRounds && len(rows) < r.Limit; round++ {
		args := []any{string(r.Kind), micros(r.Now), createdAfter, r.Limit - len(rows)}
		var (
			got  []claimed
			lost int
		)
		err := retryConflicts(ctx, s.dialect, func() (err error) {
			switch s.dialect {
			case MySQL:
				got, lost, err = s.claimMySQL(ctx, sv, token, until, args)
			default:
				got, lost, err = s.claimSQLite(ctx, token, until, args)
			}
			return err
		})
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		rows = append(rows, got...)
		if lost == 0 {
			break
		}
	}
	out, err := s.claims(ctx, r.Kind, token, rows)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// claimPostgres claims and loads the claimed attempts in one statement,
// most overdue first.
func (s *Store) claimPostgres(ctx context.Context, kind store.Kind, token string, until int64, args []any) ([]store.Claim, error) {
	rows, err := s.db.QueryContext(ctx, s.q.schedule.claim, append(append([]any{until, token}, args...), args[0])...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Claim{}
	for rows.Next() {
		var due int64
		o, err := scanOrder(prefixScanner{rows, &due})
		if err != nil {
			return nil, err
		}
		out = append(out, store.Claim{Kind: kind, Key: o.OutTradeNo, Due: fromMicros(due), Token: token, Order: o})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Due.Equal(out[j].Due) {
			return out[i].Due.Before(out[j].Due)
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// prefixScanner scans first, then what its caller asks for.
type prefixScanner struct {
	sc    scanner
	first any
}

func (p prefixScanner) Scan(dest ...any) error {
	return p.sc.Scan(append([]any{p.first}, dest...)...)
}

func scanClaimed(rows *sql.Rows) ([]claimed, error) {
	defer rows.Close()
	var out []claimed
	for rows.Next() {
		var c claimed
		if err := rows.Scan(&c.key, &c.due); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// txQuerier is a *sql.Tx or a *sql.Conn.
type txQuerier interface {
	execer
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// pickAndMark reads the due rows with query and marks those still as read
// claimed by token, on q (inside the caller's transaction). It returns the
// rows it took and how many it read but lost to a concurrent claim.
//
// The mark is what makes a claim exclusive: one UPDATE whose condition
// per row is the kind, due time and claim token the read saw. Every claim
// writes a fresh token, so a row another claim took since the read no
// longer matches, and the database (which evaluates an UPDATE's WHERE on
// the latest committed row, or fails the later of two conflicting
// optimistic transactions at COMMIT) lets only one mark change it.
func (s *Store) pickAndMark(ctx context.Context, q txQuerier, query, token string, until int64, args []any) ([]claimed, int, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var (
		picked []claimed
		tokens []string
	)
	for rows.Next() {
		var (
			c   claimed
			tok string
		)
		if err := rows.Scan(&c.key, &c.due, &tok); err != nil {
			return nil, 0, err
		}
		picked, tokens = append(picked, c), append(tokens, tok)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	rows.Close()
	if len(picked) == 0 {
		return nil, 0, nil
	}
	markArgs := make([]any, 0, 3+3*len(picked))
	markArgs = append(markArgs, until, token, args[0])
	conds := make([]string, len(picked))
	keys := make([]any, 0, 1+len(picked))
	keys = append(keys, token)
	for i, c := range picked {
		conds[i] = "(out_trade_no = ? AND next_due = ? AND claim_token = ?)"
		markArgs = append(markArgs, c.key, c.due, tokens[i])
		keys = append(keys, c.key)
	}
	mark := rebind(s.dialect, fmt.Sprintf("UPDATE %s SET next_due = ?, claim_token = ? WHERE kind = ? AND (%s)",
		s.q.schedule.table, strings.Join(conds, " OR ")))
	res, err := q.ExecContext(ctx, mark, markArgs...)
	if err != nil {
		return nil, 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, 0, err
	}
	if int(n) == len(picked) {
		return picked, 0, nil
	}
	// Some rows changed since the read: keep the ones now holding token.
	won := map[string]bool{}
	if n > 0 {
		check := rebind(s.dialect, fmt.Sprintf("SELECT out_trade_no FROM %s WHERE claim_token = ? AND out_trade_no IN (%s)",
			s.q.schedule.table, placeholders(len(picked))))
		rows, err := q.QueryContext(ctx, check, keys...)
		if err != nil {
			return nil, 0, err
		}
		defer rows.Close()
		for rows.Next() {
			var key string
			if err := rows.Scan(&key); err != nil {
				return nil, 0, err
			}
			won[key] = true
		}
		if err := rows.Err(); err != nil {
			return nil, 0, err
		}
	}
	var took []claimed
	for _, c := range picked {
		if won[c.key] {
			took = append(took, c)
		}
	}
	return took, len(picked) - len(took), nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// claimMySQL claims in one transaction. The read's lock clause depends on
// the server: SKIP LOCKED where it is honoured, a plain FOR UPDATE on
// older MySQL and MariaDB, and none on TiDB and OceanBase, whose locking
// reads do not exclude the way one server's do (TiDB takes no lock at all
// for SKIP LOCKED); there the conditional mark alone decides.
func (s *Store) claimMySQL(ctx context.Context, sv Server, token string, until int64, args []any) (picked []claimed, lost int, err error) {
	query := s.q.schedule.due
	switch {
	case sv.Distributed():
	case sv.SkipLocked():
		query += " FOR UPDATE SKIP LOCKED"
	default:
		query += " FOR UPDATE"
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	picked, lost, err = s.pickAndMark(ctx, tx, query, token, until, args)
	if err != nil {
		return nil, 0, err
	}
	return picked, lost, tx.Commit()
}

func (s *Store) claimSQLite(ctx context.Context, token string, until int64, args []any) ([]claimed, int, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	// IMMEDIATE takes the write lock before the read, so two claims queue
	// on busy_timeout instead of both reading the same due rows.
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, 0, err
	}
	picked, lost, err := s.pickAndMark(ctx, conn, s.q.schedule.due, token, until, args)
	if err == nil {
		_, err = conn.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		if _, rbErr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil {
			discard(conn)
		}
		return nil, 0, err
	}
	return picked, lost, nil
}

// claims loads the claimed attempts and returns them most overdue first.
func (s *Store) claims(ctx context.Context, kind store.Kind, token string, rows []claimed) ([]store.Claim, error) {
	out := make([]store.Claim, 0, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].due != rows[j].due {
			return rows[i].due < rows[j].due
		}
		return rows[i].key < rows[j].key
	})
	keys := make([]any, len(rows))
	for i, c := range rows {
		keys[i] = c.key
	}
	query := rebind(s.dialect, fmt.Sprintf("%s WHERE o.out_trade_no IN (%s)", selectOrders(s.dialect, s.prefix), placeholders(len(rows))))
	orders, err := s.list(ctx, "load claimed", query, keys...)
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]*store.Order, len(orders))
	for _, o := range orders {
		byKey[o.OutTradeNo] = o
	}
	for _, c := range rows {
		o := byKey[c.key]
		if o == nil {
			return nil, fmt.Errorf("claimed %s has no order", c.key)
		}
		out = append(out, store.Claim{Kind: kind, Key: c.key, Due: fromMicros(c.due), Token: token, Order: o})
	}
	return out, nil
}

// Reschedule implements store.Scheduler with one UPDATE fenced by the
// claim's token.
func (s *Store) Reschedule(ctx context.Context, c store.Claim, next time.Time) error {
	op := "reschedule " + c.Key
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, op, err)
	}
	if c.Token != "" {
		var res sql.Result
		err := retryConflicts(ctx, s.dialect, func() (err error) {
			res, err = s.db.ExecContext(ctx, s.q.schedule.reschedule, micros(next), c.Key, c.Token)
			return err
		})
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
	}
	err := s.db.QueryRowContext(ctx, s.q.schedule.exists, c.Key).Scan(new(int))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	case err != nil:
		return s.fail(ctx, op, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotHeld)
}
