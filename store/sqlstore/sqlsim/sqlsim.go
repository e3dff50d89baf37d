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
//     pessimistic mode (the default since v3.0.8) does.
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
	var base driver.Stmt
	if p, ok := c.base.(driver.ConnPrepareContext); ok {
		base, err = p.PrepareContext(ctx, q)
	} else {
		base, err = c.base.Prepare(q)
	}
	if err != nil {
		return nil, err
	}
	return &stmt{Stmt: base, c: c, query: query, q: q}, nil
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
	return c.baseExec(ctx, q, args)
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
