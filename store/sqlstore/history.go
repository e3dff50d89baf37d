package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cypaykit/kit/store"
)

var (
	_ store.InboxStore = (*Store)(nil)
	_ store.EventStore = (*Store)(nil)

	_ store.InboxBatcher = (*Store)(nil)
	_ store.EventBatcher = (*Store)(nil)
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
	id, err := s.insertReturning(ctx, fmt.Sprintf("INSERT INTO %sinbox (%s) VALUES %s",
		s.prefix, strings.TrimPrefix(inboxColumns, "id, "), inboxRow), inboxArgs(nil, it)...)
	if err != nil {
		return 0, s.fail(ctx, "add inbox", err)
	}
	return id, nil
}

// inboxRow is one row's placeholders in an INSERT INTO inbox; copies
// starts at 0.
const inboxRow = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"

// inboxArgs appends it's column values, in inboxRow's order, to args.
func inboxArgs(args []any, it *store.InboxItem) []any {
	body := it.Body
	if body == nil {
		body = []byte{} // NOT NULL
	}
	return append(args, micros(it.ReceivedAt), clip(it.Instance, 128), it.OutTradeNo, it.Amount,
		clip(it.ContentType, 128), clip(it.RemoteAddr, 128), it.Headers, body, clip(it.Outcome, 32),
		clip(it.Reply, 32), it.Status, it.Err)
}

// rowsPerInsert bounds the rows of one multi-row INSERT: its
// placeholders stay under SQLite's old limit of 999 and its size
// (bodies of up to 64 KiB) under MariaDB's default max_allowed_packet.
const rowsPerInsert = 64

// values is n copies of row joined by commas: a multi-row VALUES list.
func values(row string, n int) string {
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// AddInboxBatch implements store.InboxBatcher: one multi-row INSERT (one
// statement, one commit) per rowsPerInsert items; more than that run in
// one transaction, so that the batch is kept all or none. PostgreSQL and
// SQLite return the IDs through RETURNING. On MySQL and MariaDB the IDs
// of a multi-row INSERT … VALUES are consecutive in steps of
// auto_increment_increment from LAST_INSERT_ID(), which is the first:
// InnoDB reserves a "simple insert"'s values at once in every
// innodb_autoinc_lock_mode (only bulk inserts, INSERT … SELECT and LOAD
// DATA, may get gaps, in mode 2). TiDB and OceanBase promise their
// AUTO_INCREMENT values unique and increasing, not consecutive, so there
// the batch is one transaction of single-row INSERTs, each reporting its
// own ID.
func (s *Store) AddInboxBatch(ctx context.Context, items []*store.InboxItem) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "add inbox batch", err)
	}
	if len(items) == 0 {
		return []int64{}, nil
	}
	if s.dialect == MySQL {
		sv, err := s.Server(ctx)
		if err != nil {
			return nil, err
		}
		if !sv.ConsecutiveIDs() {
			return s.addInboxRows(ctx, items)
		}
	}
	ids := make([]int64, 0, len(items))
	run := func(ex execer) error {
		for lo := 0; lo < len(items); lo += rowsPerInsert {
			chunk := items[lo:min(lo+rowsPerInsert, len(items))]
			got, err := s.insertInbox(ctx, ex, chunk)
			if err != nil {
				return err
			}
			ids = append(ids, got...)
		}
		return nil
	}
	var err error
	if len(items) <= rowsPerInsert {
		err = run(s.db)
	} else {
		err = s.inTx(ctx, func(tx *sql.Tx) error { ids = ids[:0]; return run(tx) })
	}
	if err != nil {
		return nil, s.fail(ctx, "add inbox batch", err)
	}
	return ids, nil
}

// insertInbox keeps items with one INSERT and returns their IDs in order.
func (s *Store) insertInbox(ctx context.Context, ex execer, items []*store.InboxItem) ([]int64, error) {
	args := make([]any, 0, 12*len(items))
	for _, it := range items {
		args = inboxArgs(args, it)
	}
	q := fmt.Sprintf("INSERT INTO %sinbox (%s) VALUES %s", s.prefix, strings.TrimPrefix(inboxColumns, "id, "),
		values(inboxRow, len(items)))
	ids := make([]int64, 0, len(items))
	if s.dialect != MySQL {
		rows, err := ex.QueryContext(ctx, rebind(s.dialect, q+" RETURNING id"), args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(ids) != len(items) {
			return nil, fmt.Errorf("%d IDs returned for %d rows", len(ids), len(items))
		}
		// RETURNING's order is not promised; the IDs are generated in
		// the VALUES list's order (a sequence, SQLite's rowid).
		slices.Sort(ids)
		return ids, nil
	}
	step, err := s.autoIncrementStep(ctx, ex)
	if err != nil {
		return nil, err
	}
	res, err := ex.ExecContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	first, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n != int64(len(items)) {
		return nil, fmt.Errorf("%d rows inserted of %d", n, len(items))
	}
	for i := range items {
		ids = append(ids, first+int64(i)*step)
	}
	return ids, nil
}

// addInboxRows keeps items with one single-row INSERT each, in one
// transaction, and returns the IDs each reported: for servers whose
// multi-row INSERT may give its rows IDs that are not consecutive.
func (s *Store) addInboxRows(ctx context.Context, items []*store.InboxItem) ([]int64, error) {
	q := fmt.Sprintf("INSERT INTO %sinbox (%s) VALUES %s", s.prefix, strings.TrimPrefix(inboxColumns, "id, "), inboxRow)
	ids := make([]int64, 0, len(items))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ids = ids[:0]
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer st.Close()
		args := make([]any, 0, 12)
		for _, it := range items {
			res, err := st.ExecContext(ctx, inboxArgs(args[:0], it)...)
			if err != nil {
				return err
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(ctx, "add inbox batch", err)
	}
	return ids, nil
}

// autoIncrementStep is MySQL's auto_increment_increment (1 unless a
// cluster such as Galera spreads IDs across its nodes), read once.
func (s *Store) autoIncrementStep(ctx context.Context, ex execer) (int64, error) {
	if v := s.incStep.Load(); v > 0 {
		return v, nil
	}
	var v int64
	if err := ex.QueryRowContext(ctx, "SELECT @@auto_increment_increment").Scan(&v); err != nil {
		return 0, err
	}
	if v < 1 {
		v = 1
	}
	s.incStep.Store(v)
	return v, nil
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
	_, err := s.db.ExecContext(ctx, rebind(s.dialect, fmt.Sprintf("INSERT INTO %sevents (%s) VALUES %s",
		s.prefix, strings.TrimPrefix(eventsColumns, "id, "), eventRow)), eventArgs(nil, e)...)
	if err != nil {
		return s.fail(ctx, "add event", err)
	}
	return nil
}

// eventRow is one row's placeholders in an INSERT INTO events.
const eventRow = "(?, ?, ?, ?, ?, ?, ?, ?)"

// eventArgs appends e's column values, in eventRow's order, to args.
func eventArgs(args []any, e *store.Event) []any {
	return append(args, e.OutTradeNo, micros(e.At), clip(string(e.Kind), 32), clip(e.Source, 32),
		clip(e.Outcome, 32), e.Amount, e.Detail, clip(e.Instance, 128))
}

// AddEvents implements store.EventBatcher: one multi-row INSERT per
// rowsPerInsert events, in one transaction when there are more.
func (s *Store) AddEvents(ctx context.Context, evs []*store.Event) error {
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "add events", err)
	}
	if len(evs) == 0 {
		return nil
	}
	run := func(ex execer) error {
		for lo := 0; lo < len(evs); lo += rowsPerInsert {
			chunk := evs[lo:min(lo+rowsPerInsert, len(evs))]
			args := make([]any, 0, 8*len(chunk))
			for _, e := range chunk {
				args = eventArgs(args, e)
			}
			if _, err := ex.ExecContext(ctx, rebind(s.dialect, fmt.Sprintf("INSERT INTO %sevents (%s) VALUES %s",
				s.prefix, strings.TrimPrefix(eventsColumns, "id, "), values(eventRow, len(chunk)))), args...); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if len(evs) <= rowsPerInsert {
		err = run(s.db)
	} else {
		err = s.inTx(ctx, func(tx *sql.Tx) error { return run(tx) })
	}
	if err != nil {
		return s.fail(ctx, "add events", err)
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
