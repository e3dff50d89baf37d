package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cypaykit/kit/store"
)

var (
	_ store.InboxStore = (*Store)(nil)
	_ store.EventStore = (*Store)(nil)
)

const (
	inboxColumns  = "id, received_at, instance, out_trade_no, amount, content_type, remote_addr, headers, body, outcome, reply, status, err, copies"
	eventsColumns = "id, out_trade_no, at, kind, source, outcome, amount, detail, instance"
)

// clip cuts s to the n bytes a column holds (MySQL's strict mode refuses
// a longer value rather than cut it), on a UTF-8 boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8Start(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0x80 {
		s = s[:len(s)-1] // a lead byte whose continuation was cut
	}
	return s
}

func utf8Start(b byte) bool { return b < 0x80 || b >= 0xC0 }

// insertReturning runs an INSERT and returns the generated id: through
// RETURNING on PostgreSQL, whose driver has no LastInsertId.
func (s *Store) insertReturning(ctx context.Context, query string, args ...any) (int64, error) {
	if s.dialect == Postgres {
		var id int64
		err := s.db.QueryRowContext(ctx, rebind(s.dialect, query+" RETURNING id"), args...).Scan(&id)
		return id, err
	}
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// AddInbox implements store.InboxStore with one INSERT.
func (s *Store) AddInbox(ctx context.Context, it *store.InboxItem) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.fail(ctx, "add inbox", err)
	}
	body := it.Body
	if body == nil {
		body = []byte{} // NOT NULL
	}
	id, err := s.insertReturning(ctx, fmt.Sprintf("INSERT INTO %sinbox (%s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
		s.prefix, strings.TrimPrefix(inboxColumns, "id, ")),
		micros(it.ReceivedAt), clip(it.Instance, 128), it.OutTradeNo, it.Amount, clip(it.ContentType, 128),
		clip(it.RemoteAddr, 128), it.Headers, body, clip(it.Outcome, 32), clip(it.Reply, 32), it.Status, it.Err)
	if err != nil {
		return 0, s.fail(ctx, "add inbox", err)
	}
	return id, nil
}

// AddInboxCopies implements store.InboxStore with one UPDATE.
func (s *Store) AddInboxCopies(ctx context.Context, id, n int64) error {
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "add inbox copies", err)
	}
	res, err := s.db.ExecContext(ctx, rebind(s.dialect, fmt.Sprintf("UPDATE %sinbox SET copies = copies + ? WHERE id = ?", s.prefix)), n, id)
	if err != nil {
		return s.fail(ctx, "add inbox copies", err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return s.fail(ctx, "add inbox copies", err)
	} else if k == 0 {
		return fmt.Errorf("sqlstore: inbox item %d: %w", id, store.ErrNotFound)
	}
	return nil
}

func scanItem(sc interface{ Scan(...any) error }) (*store.InboxItem, error) {
	var it store.InboxItem
	var at int64
	if err := sc.Scan(&it.ID, &at, &it.Instance, &it.OutTradeNo, &it.Amount, &it.ContentType, &it.RemoteAddr,
		&it.Headers, &it.Body, &it.Outcome, &it.Reply, &it.Status, &it.Err, &it.Copies); err != nil {
		return nil, err
	}
	it.ReceivedAt = fromMicros(at)
	if it.Body == nil {
		it.Body = []byte{}
	}
	return &it, nil
}

// GetInbox implements store.InboxStore.
func (s *Store) GetInbox(ctx context.Context, id int64) (*store.InboxItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "get inbox", err)
	}
	row := s.db.QueryRowContext(ctx, rebind(s.dialect, fmt.Sprintf("SELECT %s FROM %sinbox WHERE id = ?", inboxColumns, s.prefix)), id)
	it, err := scanItem(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: inbox item %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.fail(ctx, "get inbox", err)
	}
	return it, nil
}

// ListInbox implements store.InboxStore: one SELECT down the id.
func (s *Store) ListInbox(ctx context.Context, q store.InboxQuery) ([]*store.InboxItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "list inbox", err)
	}
	var where []string
	var args []any
	if !q.Since.IsZero() {
		where, args = append(where, "received_at >= ?"), append(args, micros(q.Since))
	}
	if q.FailedOnly {
		where, args = append(where, "reply <> ?"), append(args, store.ReplySuccess)
	}
	if q.OutTradeNo != "" {
		where, args = append(where, "out_trade_no = ?"), append(args, q.OutTradeNo)
	}
	if q.Before != 0 {
		where, args = append(where, "id < ?"), append(args, q.Before)
	}
	limit := q.Limit
	if limit < 1 {
		limit = 100
	}
	query := fmt.Sprintf("SELECT %s FROM %sinbox", inboxColumns, s.prefix)
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.db.QueryContext(ctx, rebind(s.dialect, query), args...)
	if err != nil {
		return nil, s.fail(ctx, "list inbox", err)
	}
	defer rows.Close()
	out := []*store.InboxItem{}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, s.fail(ctx, "list inbox", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, "list inbox", err)
	}
	return out, nil
}

// prune deletes at most limit rows of table older than before, oldest
// first by order. MySQL takes DELETE … ORDER BY … LIMIT but no LIMIT in a
// subquery; SQLite (as usually built) and PostgreSQL the other way round.
func (s *Store) prune(ctx context.Context, op, table, timeCol, order string, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.fail(ctx, op, err)
	}
	if limit < 1 {
		return 0, nil
	}
	t := s.prefix + table
	var query string
	if s.dialect == MySQL {
		query = fmt.Sprintf("DELETE FROM %s WHERE %s < ? ORDER BY %s LIMIT %d", t, timeCol, order, limit)
	} else {
		query = fmt.Sprintf("DELETE FROM %[1]s WHERE id IN (SELECT id FROM %[1]s WHERE %[2]s < ? ORDER BY %[3]s LIMIT %[4]d)", t, timeCol, order, limit)
	}
	res, err := s.db.ExecContext(ctx, rebind(s.dialect, query), micros(before))
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	return int(n), nil
}

// PruneInbox implements store.InboxStore with one bounded DELETE.
func (s *Store) PruneInbox(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.prune(ctx, "prune inbox", "inbox", "received_at", "id", before, limit)
}

// AddEvent implements store.EventStore with one INSERT.
func (s *Store) AddEvent(ctx context.Context, e *store.Event) error {
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "add event", err)
	}
	_, err := s.db.ExecContext(ctx, rebind(s.dialect, fmt.Sprintf("INSERT INTO %sevents (%s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		s.prefix, strings.TrimPrefix(eventsColumns, "id, "))),
		e.OutTradeNo, micros(e.At), clip(string(e.Kind), 32), clip(e.Source, 32), clip(e.Outcome, 32),
		e.Amount, e.Detail, clip(e.Instance, 128))
	if err != nil {
		return s.fail(ctx, "add event", err)
	}
	return nil
}

// ListEvents implements store.EventStore: the attempt's events and its
// inbox items, two indexed reads.
func (s *Store) ListEvents(ctx context.Context, outTradeNo string) ([]*store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "list events", err)
	}
	rows, err := s.db.QueryContext(ctx, rebind(s.dialect, fmt.Sprintf("SELECT %s FROM %sevents WHERE out_trade_no = ? ORDER BY at, id",
		eventsColumns, s.prefix)), outTradeNo)
	if err != nil {
		return nil, s.fail(ctx, "list events", err)
	}
	defer rows.Close()
	out := []*store.Event{}
	for rows.Next() {
		var e store.Event
		var at int64
		var kind string
		if err := rows.Scan(&e.ID, &e.OutTradeNo, &at, &kind, &e.Source, &e.Outcome, &e.Amount, &e.Detail, &e.Instance); err != nil {
			return nil, s.fail(ctx, "list events", err)
		}
		e.At, e.Kind = fromMicros(at), store.EventKind(kind)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, "list events", err)
	}
	rows.Close()
	items, err := s.db.QueryContext(ctx, rebind(s.dialect, fmt.Sprintf("SELECT %s FROM %sinbox WHERE out_trade_no = ? ORDER BY id",
		inboxColumns, s.prefix)), outTradeNo)
	if err != nil {
		return nil, s.fail(ctx, "list events", err)
	}
	defer items.Close()
	for items.Next() {
		it, err := scanItem(items)
		if err != nil {
			return nil, s.fail(ctx, "list events", err)
		}
		out = append(out, store.NotifiedEvent(it))
	}
	if err := items.Err(); err != nil {
		return nil, s.fail(ctx, "list events", err)
	}
	store.SortEvents(out)
	return out, nil
}

// PruneEvents implements store.EventStore with one bounded DELETE.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.prune(ctx, "prune events", "events", "at", "at, id", before, limit)
}
