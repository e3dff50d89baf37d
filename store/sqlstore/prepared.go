package sqlstore

import (
	"context"
	"database/sql"
	"runtime"
	"sync"
)

// Statements prepared once, on the MySQL dialect (issue 18.8). Without
// interpolateParams in the DSN, go-sql-driver prepares every statement
// that has arguments, runs it and closes it: two round trips where one
// would do. A fresh settlement's statements are prepared once per Store
// instead (database/sql then prepares each once per connection, on first
// use there, and keeps it), so each costs one round trip. A prepared
// statement is a plan the server keeps for the connection: it changes
// nothing about what the statement does, and TiDB and OceanBase prepare
// statements as MySQL does. The statements are closed when the Store is
// garbage collected, and the server frees them with their connection.

// stmtCache holds the prepared statements of one Store by their text.
// Statements are only prepared outside a transaction: preparing on the
// *sql.DB takes a connection of its own, which a transaction holding the
// pool's last one would wait for forever. A transaction runs a statement
// that is not prepared yet as it would without the cache.
type stmtCache struct {
	m    sync.Map // query text → *sql.Stmt
	mu   sync.Mutex
	hot  []string // what to prepare first, together
	done bool     // hot is prepared
}

// newStmtCache returns the cache for s, or nil where statements are not
// held (every dialect but MySQL), and closes what it holds once s is
// unreachable.
func newStmtCache(s *Store) *stmtCache {
	if s.dialect != MySQL {
		return nil
	}
	c := &stmtCache{hot: s.hotStatements()}
	runtime.SetFinalizer(s, func(s *Store) { s.stmts.close() })
	return c
}

// hotStatements are a fresh settlement's, prepared together on its first
// read so that its transactions find them ready.
func (s *Store) hotStatements() []string {
	q := []string{s.q.get, s.q.listByBusiness, s.q.classify, s.q.settle, s.q.replaceMoney, s.q.deleteMoney,
		s.q.insertMoney, s.q.markFulfilled, s.q.markRelease, s.lease.q.take, s.lease.q.takeOver, s.lease.q.release}
	out := q[:0]
	for _, x := range q {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// lookup returns query's prepared statement, or nil if it has none.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	if st, ok := c.m.Load(query); ok {
		return st.(*sql.Stmt)
	}
	return nil
}

// prepare returns query prepared on db, preparing the hot statements
// first if they are not yet. Never call it inside a transaction.
func (c *stmtCache) prepare(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done {
		for _, q := range c.hot {
			if _, err := c.prepareLocked(ctx, db, q); err != nil {
				return nil, err
			}
		}
		c.done = true
	}
	return c.prepareLocked(ctx, db, query)
}

func (c *stmtCache) prepareLocked(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	if st := c.lookup(query); st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.m.Store(query, st)
	return st, nil
}

func (c *stmtCache) close() {
	c.m.Range(func(q, st any) bool {
		st.(*sql.Stmt).Close()
		c.m.Delete(q)
		return true
	})
}

// preparedOn is an execer that runs each statement as the Store's prepared one,
// on the database or, when tx is set, in tx. A statement that cannot be
// prepared runs as it would without it, so its error (or its success)
// is the ordinary one.
type preparedOn struct {
	s  *Store
	tx *sql.Tx
}

func (h preparedOn) stmt(ctx context.Context, query string) *sql.Stmt {
	if h.tx != nil {
		if st := h.s.stmts.lookup(query); st != nil {
			return h.tx.StmtContext(ctx, st)
		}
		return nil
	}
	if st := h.s.stmts.lookup(query); st != nil {
		return st
	}
	st, err := h.s.stmts.prepare(ctx, h.s.db, query)
	if err != nil {
		return nil
	}
	return st
}

func (h preparedOn) plain() execer {
	if h.tx != nil {
		return h.tx
	}
	return h.s.db
}

func (h preparedOn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := h.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return h.plain().ExecContext(ctx, query, args...)
}

func (h preparedOn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := h.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return h.plain().QueryRowContext(ctx, query, args...)
}

func (h preparedOn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := h.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return h.plain().QueryContext(ctx, query, args...)
}

// on returns what runs the Store's statements: in tx when tx is not nil,
// else on the database; through prepared statements where they are held (MySQL).
func (s *Store) on(tx *sql.Tx) execer {
	switch {
	case s.stmts != nil:
		return preparedOn{s: s, tx: tx}
	case tx != nil:
		return tx
	}
	return s.db
}
