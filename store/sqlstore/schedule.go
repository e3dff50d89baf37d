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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cypaykit/kit/store"
)

var _ store.Scheduler = (*Store)(nil)

// scheduleQueries are the statements on <prefix>schedule. Each takes the
// table's key column as out_trade_no; a refund table would repeat them on
// its own schedule table, with its own kinds.
type scheduleQueries struct {
	insert, toFulfil, toNone string
	// claim is PostgreSQL's one-statement claim; elsewhere due (a locking
	// read) and then mark run in one transaction.
	claim, due, dueSkipLocked string
	reschedule, exists        string
	table                     string
}

func buildScheduleQueries(d Dialect, p string) scheduleQueries {
	t := p + "schedule"
	r := func(format string, args ...any) string { return rebind(d, fmt.Sprintf(format, args...)) }
	pick := fmt.Sprintf("SELECT out_trade_no, next_due FROM %s WHERE kind = ? AND next_due <= ? AND created_at > ? "+
		"ORDER BY next_due, out_trade_no LIMIT ?", t)
	return scheduleQueries{
		table:  t,
		insert: r("INSERT INTO %s (out_trade_no, kind, next_due, claim_token, created_at) VALUES (?, ?, ?, '', ?)", t),
		// A settled attempt becomes fulfilment work, keeping its due time.
		toFulfil: r("UPDATE %s SET kind = '%s' WHERE out_trade_no = ?", t, store.KindFulfil),
		toNone:   r("UPDATE %s SET kind = '' WHERE out_trade_no = ?", t),
		// The subquery's FOR UPDATE SKIP LOCKED passes over rows another
		// claim is taking right now instead of queueing behind it.
		claim: r("UPDATE %[1]s AS s SET next_due = ?, claim_token = ? FROM (%[2]s FOR UPDATE SKIP LOCKED) AS c "+
			"WHERE s.out_trade_no = c.out_trade_no RETURNING s.out_trade_no, c.next_due", t, pick),
		due:           r("%s", pick),
		dueSkipLocked: r("%s FOR UPDATE SKIP LOCKED", pick),
		reschedule:    r("UPDATE %s SET next_due = ?, claim_token = '' WHERE out_trade_no = ? AND claim_token = ?", t),
		exists:        r("SELECT 1 FROM %s WHERE out_trade_no = ?", t),
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

// Claim implements store.Scheduler. On PostgreSQL it is one UPDATE over a
// FOR UPDATE SKIP LOCKED subquery; on MySQL a transaction that reads the
// due rows FOR UPDATE (SKIP LOCKED on MySQL 8 and MariaDB 10.6 or later)
// and marks them; on SQLite, a single writer, the same under BEGIN
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
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("sqlstore: %s: token: %w", op, err)
	}
	token := hex.EncodeToString(b[:])
	createdAfter := int64(math.MinInt64)
	if !r.CreatedAfter.IsZero() {
		createdAfter = micros(r.CreatedAfter)
	}
	args := []any{string(r.Kind), micros(r.Now), createdAfter, r.Limit}
	until := micros(r.Now.Add(r.Lease))
	var (
		rows []claimed
		err  error
	)
	switch s.dialect {
	case Postgres:
		rows, err = s.claimPostgres(ctx, token, until, args)
	case MySQL:
		rows, err = s.claimMySQL(ctx, token, until, args)
	default:
		rows, err = s.claimSQLite(ctx, token, until, args)
	}
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	out, err := s.claims(ctx, r.Kind, token, rows)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

func (s *Store) claimPostgres(ctx context.Context, token string, until int64, args []any) ([]claimed, error) {
	rows, err := s.db.QueryContext(ctx, s.q.schedule.claim, append([]any{until, token}, args...)...)
	if err != nil {
		return nil, err
	}
	return scanClaimed(rows)
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

// pickAndMark reads the due rows with query and marks them claimed, on q
// (inside the caller's transaction).
func (s *Store) pickAndMark(ctx context.Context, q txQuerier, query, token string, until int64, args []any) ([]claimed, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	picked, err := scanClaimed(rows)
	if err != nil || len(picked) == 0 {
		return picked, err
	}
	keys := make([]any, 0, len(picked)+2)
	keys = append(keys, until, token)
	for _, c := range picked {
		keys = append(keys, c.key)
	}
	mark := rebind(s.dialect, fmt.Sprintf("UPDATE %s SET next_due = ?, claim_token = ? WHERE out_trade_no IN (%s)",
		s.q.schedule.table, placeholders(len(picked))))
	if _, err := q.ExecContext(ctx, mark, keys...); err != nil {
		return nil, err
	}
	return picked, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func (s *Store) claimMySQL(ctx context.Context, token string, until int64, args []any) ([]claimed, error) {
	query := s.q.schedule.due + " FOR UPDATE"
	skip, err := s.skipLocked(ctx)
	if err != nil {
		return nil, err
	}
	if skip {
		query = s.q.schedule.dueSkipLocked
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	picked, err := s.pickAndMark(ctx, tx, query, token, until, args)
	if err != nil {
		return nil, err
	}
	return picked, tx.Commit()
}

func (s *Store) claimSQLite(ctx context.Context, token string, until int64, args []any) ([]claimed, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// IMMEDIATE takes the write lock before the read, so two claims queue
	// on busy_timeout instead of both reading the same due rows.
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, err
	}
	picked, err := s.pickAndMark(ctx, conn, s.q.schedule.due, token, until, args)
	if err == nil {
		_, err = conn.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		if _, rbErr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil {
			discard(conn)
		}
		return nil, err
	}
	return picked, nil
}

// skipLocked reports, once per Store, whether the MySQL server knows
// FOR UPDATE SKIP LOCKED: MySQL 8.0.1 and MariaDB 10.6 onwards. Older
// servers get a plain FOR UPDATE, which queues concurrent claims instead
// of letting them pass each other, and is just as exclusive.
func (s *Store) skipLocked(ctx context.Context) (bool, error) {
	s.skipMu.Lock()
	defer s.skipMu.Unlock()
	if s.skipKnown {
		return s.skip, nil
	}
	var v string
	if err := s.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return false, err
	}
	s.skip, s.skipKnown = mysqlSkipLocked(v), true
	return s.skip, nil
}

// mysqlSkipLocked reads a VERSION() string such as "8.0.36" or
// "10.11.6-MariaDB-0+deb12u1".
func mysqlSkipLocked(version string) bool {
	parts := strings.SplitN(strings.SplitN(version, "-", 2)[0], ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return major > 10 || major == 10 && minor >= 6
	}
	return major >= 8
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
	query := rebind(s.dialect, fmt.Sprintf("%s WHERE o.out_trade_no IN (%s)", selectOrders(s.prefix), placeholders(len(rows))))
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
		res, err := s.db.ExecContext(ctx, s.q.schedule.reschedule, micros(next), c.Key, c.Token)
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

// skipState is the cached answer of skipLocked.
type skipState struct {
	skipMu          sync.Mutex
	skip, skipKnown bool
}
