// Package sqlsim wraps a database/sql driver so that a MariaDB or
// PostgreSQL server behaves, in the ways sqlstore depends on, like a
// server that a CI machine cannot run: TiDB, OceanBase (MySQL mode), or
// PostgreSQL under SERIALIZABLE. sqlstore's tests run the storetest
// conformance suite and its claim storms through each.
//
// Only behaviour the store can observe is simulated:
//
//   - TiDB: VERSION() answers "8.0.11-TiDB-v8.5.6"; FOR UPDATE SKIP
//     LOCKED is accepted and takes no lock at all (pingcap/tidb#69720);
//     and, as in TiDB's optimistic mode, COMMIT of a transaction that
//     wrote can fail with error 9007 (write conflict), after its writes
//     were thrown away. A plain FOR UPDATE keeps MariaDB's lock, as TiDB's
//     pessimistic mode (the default since v3.0.8) does. With AutoIDGaps,
//     the rows of one multi-row INSERT get auto-increment IDs with gaps
//     between them, which TiDB's contract allows and MariaDB never does.
//   - OceanBase: VERSION() answers "5.7.25-OceanBase_CE-v4.2.1.2", and
//     GET_LOCK and RELEASE_LOCK do not exist (error 1305), which is why
//     Flyway had to stop calling them there.
//   - PostgreSQL SERIALIZABLE: every session runs SERIALIZABLE, and COMMIT
//     of a transaction that wrote can fail with SQLSTATE 40001.
//
// What a real server does beyond that (TiDB's timestamp oracle, its
// optimistic FOR UPDATE, OceanBase's own lock waits) is not simulated.
package sqlsim

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// Engine is the server a Driver makes its base behave like.
type Engine int

// Engines.
const (
	TiDB Engine = iota + 1
	OceanBase
	PostgresSerializable
)

// Version strings the simulated servers report.
const (
	TiDBVersion      = "8.0.11-TiDB-v8.5.6"
	OceanBaseVersion = "5.7.25-OceanBase_CE-v4.2.1.2"
)

// Driver is a database/sql driver over Base that behaves like Engine.
// Use it with sql.OpenDB(d.Connector(dsn)) or register it with
// sql.Register. Its fields must be set before the first connection.
type Driver struct {
	Engine Engine
	Base   driver.Driver
	// ConflictEvery makes every n-th COMMIT of a transaction that wrote
	// fail with the engine's conflict error (TiDB 9007, PostgreSQL 40001)
	// after rolling the transaction back; 0 never does.
	ConflictEvery int64
	// Inject, when set, is asked before every statement and every COMMIT
	// (as query "COMMIT"); a non-nil error is returned instead of running
	// it (a COMMIT's transaction is rolled back). It lets a test raise
	// any error class.
	Inject func(query string) error
	// AutoIDGaps (TiDB only) runs a multi-row INSERT … VALUES so that its
	// rows get increasing auto-increment IDs with a gap between each two,
	// and LastInsertId reports the first. TiDB promises AUTO_INCREMENT
	// values only unique, and monotonic per TiDB server: "Monotonicity is
	// not the same guarantee as consecutive", and it advises not to rely
	// on them being continuous (docs.pingcap.com/tidb/stable/auto-increment;
	// each server allocates from a cached range of its own, other
	// statements on that server allocate from the same range, and
	// AUTO_ID_CACHE 1 moves allocation to a central service). A
	// single-server MariaDB gives a multi-row INSERT consecutive values;
	// a TiDB may not, and code that assumes it must fail here. The gap
	// is made the way another statement on the same TiDB server would
	// make it: the row is inserted once more under a savepoint that is
	// rolled back, which spends an ID the server never hands out again.
	// The statement stays all or none (it runs in the caller's
	// transaction, or in one of its own).
	AutoIDGaps bool

	commits, conflicts atomic.Int64
}

// Conflicts is how many COMMITs the Driver failed on purpose.
func (d *Driver) Conflicts() int64 { return d.conflicts.Load() }

// Open implements driver.Driver.
func (d *Driver) Open(name string) (driver.Conn, error) {
	c, err := d.Base.Open(name)
	if err != nil {
		return nil, err
	}
	return d.wrap(context.Background(), c)
}

// Connector returns a connector for sql.OpenDB on the base driver's dsn.
func (d *Driver) Connector(dsn string) driver.Connector { return connector{d, dsn} }

type connector struct {
	d   *Driver
	dsn string
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	base, err := c.d.Base.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return c.d.wrap(ctx, base)
}

func (c connector) Driver() driver.Driver { return c.d }

func (d *Driver) wrap(ctx context.Context, base driver.Conn) (driver.Conn, error) {
	c := &conn{d: d, base: base}
	if d.Engine == PostgresSerializable {
		if _, err := c.baseExec(ctx, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", nil); err != nil {
			base.Close()
			return nil, err
		}
	}
	return c, nil
}

// ConflictError is the error the engine answers a lost optimistic
// transaction with, in its driver's own type.
func ConflictError(e Engine) error {
	if e == PostgresSerializable {
		return &pgconn.PgError{Severity: "ERROR", Code: "40001",
			Message: "could not serialize access due to read/write dependencies among transactions"}
	}
	return MySQLError(9007, "Write conflict, txnStartTS=0, conflictStartTS=0, conflictCommitTS=0, key=? [try again later]")
}

// MySQLError is a go-sql-driver error with number n.
func MySQLError(n uint16, msg string) error {
	return &mysql.MySQLError{Number: n, SQLState: [5]byte{'H', 'Y', '0', '0', '0'}, Message: msg}
}

// PostgresError is a pgx error with SQLSTATE code.
func PostgresError(code, msg string) error {
	return &pgconn.PgError{Severity: "ERROR", Code: code, Message: msg}
}

var (
	versionRE   = regexp.MustCompile(`(?i)\bVERSION\(\)`)
	skipLocked  = regexp.MustCompile(`(?i)\s+FOR\s+UPDATE\s+SKIP\s+LOCKED`)
	namedLockRE = regexp.MustCompile(`(?i)\b(GET_LOCK|RELEASE_LOCK)\s*\(`)
	writeRE     = regexp.MustCompile(`(?i)^\s*(INSERT|UPDATE|DELETE|REPLACE)\b`)
	insertRE    = regexp.MustCompile(`(?is)^\s*(INSERT\s+INTO\s+\S+\s*\([^)]*\))\s*VALUES\s*(.*)$`)
)

// rewrite turns query into what the base server should run, or the error
// the simulated server would answer.
func (d *Driver) rewrite(query string) (string, error) {
	if d.Inject != nil {
		if err := d.Inject(query); err != nil {
			return "", err
		}
	}
	return d.translate(query)
}

// translate is rewrite without Inject: what a statement prepared once
// and run many times is prepared as (Inject is asked at each run).
func (d *Driver) translate(query string) (string, error) {
	switch d.Engine {
	case TiDB:
		query = versionRE.ReplaceAllString(query, "'"+TiDBVersion+"'")
		// TiDB accepts the clause and locks nothing.
		query = skipLocked.ReplaceAllString(query, "")
	case OceanBase:
		if m := namedLockRE.FindStringSubmatch(query); m != nil {
			return "", MySQLError(1305, "FUNCTION "+strings.ToUpper(m[1])+" does not exist")
		}
		query = versionRE.ReplaceAllString(query, "'"+OceanBaseVersion+"'")
	}
	return query, nil
}

type conn struct {
	d    *Driver
	base driver.Conn
	tx   *tx
}

var (
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext prepares query as the simulated server would take it.
// Each run of the statement is then asked of Inject and, when it writes,
// marks the transaction it runs in as having written: a statement may be
// prepared outside the transaction it runs in (sqlstore holds some
// prepared for the Store's life), and must still make its COMMIT
// conflict.
func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	q, err := c.d.translate(query)
	if err != nil {
		return nil, err
	}
	base, err := c.basePrepare(ctx, q)
	if err != nil {
		return nil, err
	}
	return &stmt{Stmt: base, c: c, query: query, q: q}, nil
}

// basePrepare prepares q on the base connection.
func (c *conn) basePrepare(ctx context.Context, q string) (driver.Stmt, error) {
	if p, ok := c.base.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, q)
	}
	return c.base.Prepare(q)
}

// stmt is a prepared statement of conn c: query as the caller wrote it,
// q as the base server runs it.
type stmt struct {
	driver.Stmt
	c        *conn
	query, q string
}

var (
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

// run asks Inject about one run and notes its write.
func (s *stmt) run() error {
	if s.c.d.Inject != nil {
		if err := s.c.d.Inject(s.query); err != nil {
			return err
		}
	}
	s.c.noteWrite(s.q)
	return nil
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.run(); err != nil {
		return nil, err
	}
	if head, rows, ok := s.c.d.gapped(s.q); ok {
		return s.c.execGapped(ctx, head, rows, args)
	}
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, driver.ErrSkip
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.run(); err != nil {
		return nil, err
	}
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return nil, driver.ErrSkip
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *conn) Close() error { return c.base.Close() }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var (
		base driver.Tx
		err  error
	)
	if b, ok := c.base.(driver.ConnBeginTx); ok {
		base, err = b.BeginTx(ctx, opts)
	} else {
		base, err = c.base.Begin() //nolint:staticcheck // the base has nothing better
	}
	if err != nil {
		return nil, err
	}
	c.tx = &tx{c: c, base: base}
	return c.tx, nil
}

func (c *conn) noteWrite(query string) {
	if c.tx != nil && writeRE.MatchString(query) {
		c.tx.wrote = true
	}
}

func (c *conn) baseExec(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := c.base.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	q, err := c.d.rewrite(query)
	if err != nil {
		return nil, err
	}
	c.noteWrite(q)
	if head, rows, ok := c.d.gapped(q); ok {
		return c.execGapped(ctx, head, rows, args)
	}
	return c.baseExec(ctx, q, args)
}

// valuesRow is one row of a VALUES list: its text and how many
// placeholders it holds.
type valuesRow struct {
	text   string
	params int
}

// gapped reports whether q is a multi-row INSERT … VALUES that AutoIDGaps
// runs row by row, and splits it into the INSERT INTO … (columns) head
// and its rows. Anything after the VALUES list (ON DUPLICATE KEY UPDATE,
// RETURNING) leaves the statement alone.
func (d *Driver) gapped(q string) (head string, rows []valuesRow, ok bool) {
	if !d.AutoIDGaps || d.Engine != TiDB {
		return "", nil, false
	}
	m := insertRE.FindStringSubmatch(q)
	if m == nil {
		return "", nil, false
	}
	rest := m[2]
	for {
		rest = strings.TrimLeft(rest, " \t\r\n")
		if !strings.HasPrefix(rest, "(") {
			return "", nil, false
		}
		depth, params, quote, end := 0, 0, byte(0), -1
		for i := 0; i < len(rest) && end < 0; i++ {
			switch ch := rest[i]; {
			case quote != 0:
				if ch == quote {
					quote = 0
				}
			case ch == '\'' || ch == '"':
				quote = ch
			case ch == '?':
				params++
			case ch == '(':
				depth++
			case ch == ')':
				if depth--; depth == 0 {
					end = i
				}
			}
		}
		if end < 0 {
			return "", nil, false
		}
		rows = append(rows, valuesRow{rest[:end+1], params})
		rest = strings.TrimLeft(rest[end+1:], " \t\r\n")
		if rest == "" || rest == ";" {
			break
		}
		if rest[0] != ',' {
			return "", nil, false
		}
		rest = rest[1:]
	}
	return m[1], rows, len(rows) > 1
}

// execGapped runs the multi-row INSERT head VALUES rows one row at a
// time, spending one auto-increment ID before every row but the first
// (see AutoIDGaps), in the caller's transaction or in one of its own.
func (c *conn) execGapped(ctx context.Context, head string, rows []valuesRow, args []driver.NamedValue) (driver.Result, error) {
	var own driver.Tx
	if c.tx == nil {
		var err error
		if b, ok := c.base.(driver.ConnBeginTx); ok {
			own, err = b.BeginTx(ctx, driver.TxOptions{})
		} else {
			own, err = c.base.Begin() //nolint:staticcheck // the base has nothing better
		}
		if err != nil {
			return nil, err
		}
		defer func() {
			if own != nil {
				_ = own.Rollback()
			}
		}()
	}
	var first int64
	k := 0
	for i, r := range rows {
		if k+r.params > len(args) {
			return nil, errors.New("sqlsim: fewer arguments than the VALUES list's placeholders")
		}
		a := make([]driver.NamedValue, r.params)
		for j := range a {
			a[j] = args[k+j]
			a[j].Ordinal = j + 1
		}
		k += r.params
		q := head + " VALUES " + r.text
		if i > 0 {
			for _, spend := range []string{"SAVEPOINT sqlsim_gap", q, "ROLLBACK TO SAVEPOINT sqlsim_gap"} {
				sa := a
				if spend != q {
					sa = nil
				}
				if _, err := c.baseExecArgs(ctx, spend, sa); err != nil {
					return nil, err
				}
			}
		}
		res, err := c.baseExecArgs(ctx, q, a)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			if first, err = res.LastInsertId(); err != nil {
				return nil, err
			}
		}
	}
	if own != nil {
		err := own.Commit()
		own = nil
		if err != nil {
			return nil, err
		}
	}
	return insertResult{first: first, rows: int64(len(rows))}, nil
}

// insertResult is a gapped INSERT's result: LAST_INSERT_ID() is the
// first row's ID, as it is for a multi-row INSERT.
type insertResult struct{ first, rows int64 }

func (r insertResult) LastInsertId() (int64, error) { return r.first, nil }
func (r insertResult) RowsAffected() (int64, error) { return r.rows, nil }

// baseExecArgs runs query on the base connection, preparing it when the
// base driver will not send arguments inline.
func (c *conn) baseExecArgs(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.baseExec(ctx, query, args)
	if err != driver.ErrSkip {
		return res, err
	}
	st, err := c.basePrepare(ctx, query)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if e, ok := st.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, errors.New("sqlsim: the base driver's statement cannot run with a context")
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, err := c.d.rewrite(query)
	if err != nil {
		return nil, err
	}
	c.noteWrite(q)
	if qc, ok := c.base.(driver.QueryerContext); ok {
		return qc.QueryContext(ctx, q, args)
	}
	return nil, driver.ErrSkip
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.base.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.base.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.base.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.base.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type tx struct {
	c     *conn
	base  driver.Tx
	wrote bool
}

func (t *tx) Commit() error {
	t.c.tx = nil
	d := t.c.d
	var fail error
	if d.Inject != nil {
		fail = d.Inject("COMMIT")
	}
	if fail == nil && t.wrote && d.ConflictEvery > 0 && d.commits.Add(1)%d.ConflictEvery == 0 {
		d.conflicts.Add(1)
		fail = ConflictError(d.Engine)
	}
	if fail != nil {
		_ = t.base.Rollback() // the conflict is what the caller must see
		return fail
	}
	return t.base.Commit()
}

func (t *tx) Rollback() error {
	t.c.tx = nil
	return t.base.Rollback()
}

// Open is sql.OpenDB over a new Driver for engine on base's dsn.
func Open(engine Engine, base driver.Driver, dsn string) (*sql.DB, *Driver) {
	d := &Driver{Engine: engine, Base: base}
	return sql.OpenDB(d.Connector(dsn)), d
}
