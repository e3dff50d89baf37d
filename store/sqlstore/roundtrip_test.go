package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
)

// trips counts what a database/sql handle sends to its server: statements
// (each Exec or Query, and each statement a driver prepares before running
// it) and transactions (each BEGIN, and each COMMIT or ROLLBACK). Round
// trips are their sum: every one of them waits for the server's answer.
type trips struct {
	mu                         sync.Mutex
	statements, prepares, txns int
	ends                       int
	log                        []string
	deadlocks                  atomic.Int64 // statements the server aborted as deadlocked (MySQL 1213)
	// delay, when set, is waited before each round trip is sent: a
	// database that far away (BenchmarkFreshSettlementRemote).
	delay atomic.Int64 // nanoseconds
}

// sawError counts err if the server aborted the statement as deadlocked.
func (c *trips) sawError(err error) {
	if err != nil && strings.Contains(err.Error(), "Error 1213") {
		c.deadlocks.Add(1)
	}
}

func (c *trips) note(kind *int, what string) {
	c.mu.Lock()
	*kind++
	c.log = append(c.log, what)
	c.mu.Unlock()
	if d := c.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
}

// take returns the counts since the last take and starts again from zero.
func (c *trips) take() (statements, transactions, roundTrips int, log []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	statements, transactions = c.statements, c.txns
	roundTrips = c.statements + c.prepares + c.txns + c.ends
	log = c.log
	c.statements, c.prepares, c.txns, c.ends, c.log = 0, 0, 0, 0, nil
	return statements, transactions, roundTrips, log
}

// countingDriver wraps a driver and counts into trips.
type countingDriver struct {
	base driver.Driver
	n    *trips
}

func (d countingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingConn{base: c, n: d.n}, nil
}

type countingConn struct {
	base driver.Conn
	n    *trips
}

var (
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
	_ driver.NamedValueChecker  = (*countingConn)(nil)
)

func firstWords(q string) string {
	f := strings.Fields(q)
	return strings.Join(f[:min(len(f), 4)], " ")
}

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.n.note(&c.n.prepares, "prepare "+firstWords(query))
	var (
		st  driver.Stmt
		err error
	)
	if p, ok := c.base.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.base.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: st, n: c.n, what: firstWords(query)}, nil
}

func (c *countingConn) Close() error { return c.base.Close() }

func (c *countingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.n.note(&c.n.txns, "BEGIN")
	var (
		tx  driver.Tx
		err error
	)
	if b, ok := c.base.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		tx, err = c.base.Begin() //nolint:staticcheck // the base has nothing better
	}
	if err != nil {
		return nil, err
	}
	return countingTx{base: tx, n: c.n}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.base.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	res, err := e.ExecContext(ctx, query, args)
	if err != driver.ErrSkip { // ErrSkip: database/sql prepares instead, counted there
		c.n.note(&c.n.statements, firstWords(query))
	}
	c.n.sawError(err)
	return res, err
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.base.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err != driver.ErrSkip {
		c.n.note(&c.n.statements, firstWords(query))
	}
	return rows, err
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.base.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.base.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.base.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type countingTx struct {
	base driver.Tx
	n    *trips
}

func (t countingTx) Commit() error {
	t.n.note(&t.n.ends, "COMMIT")
	return t.base.Commit()
}

func (t countingTx) Rollback() error {
	t.n.note(&t.n.ends, "ROLLBACK")
	return t.base.Rollback()
}

// countingStmt counts each run of a prepared statement.
type countingStmt struct {
	driver.Stmt
	n    *trips
	what string
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.n.note(&s.n.statements, s.what)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		res, err := e.ExecContext(ctx, args)
		s.n.sawError(err)
		return res, err
	}
	return nil, driver.ErrSkip
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.n.note(&s.n.statements, s.what)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return nil, driver.ErrSkip
}

func (s *countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// baseDriver is the driver a target's handles are opened with.
func baseDriver(tg target) driver.Driver {
	switch tg.driver {
	case "pgx":
		return stdlib.GetDefaultDriver()
	case "mysql":
		return &mysql.MySQLDriver{}
	}
	return &sqlite.Driver{}
}

// countingDB opens dsn through a counting wrapper of tg's driver.
func countingDB(t testing.TB, tg target, dsn string) (*sql.DB, *trips) {
	t.Helper()
	n := &trips{}
	name := fmt.Sprintf("counting-%s-%p", tg.name, n)
	sql.Register(name, countingDriver{base: baseDriver(tg), n: n})
	db, err := sql.Open(name, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, n
}

const (
	benchMchID = "755437000006"
	benchKey   = "merchant-key-b-0123456789abcdef"
)

// quietLogger drops the kit's info lines, which would otherwise weigh on
// a benchmark.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))

// notifyOn returns the notification handler the kit wires on s by
// default: s as its own Locker, a fulfilment hook that does nothing.
func notifyOn(t testing.TB, s *sqlstore.Store) http.Handler {
	t.Helper()
	return notifyWith(t, s, func(context.Context, store.Order) error { return nil })
}

// notifyWith is notifyOn with fulfil as the fulfilment hook.
func notifyWith(t testing.TB, s *sqlstore.Store, fulfil func(context.Context, store.Order) error) http.Handler {
	t.Helper()
	st, err := handler.NewSettler(handler.SettlerConfig{Store: s, Logger: quietLogger, Fulfill: fulfil})
	if err != nil {
		t.Fatal(err)
	}
	h, err := handler.NewNotify(handler.NotifyConfig{Settler: st, Logger: quietLogger,
		Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{benchMchID: benchKey})}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// paidBody is the signed notification that o was paid in full.
func paidBody(t testing.TB, o *store.Order) string {
	t.Helper()
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{MchID: o.MchID, OutTradeNo: o.OutTradeNo,
		TotalFee: o.Amount, TransactionID: "T" + o.OutTradeNo}, benchKey, "")
	if err != nil {
		t.Fatal(err)
	}
	return v.Encode()
}

// deliver posts body to h in process and fails unless it answers success.
func deliver(t testing.TB, h http.Handler, body string) {
	t.Helper()
	if got := post(context.Background(), h, body); got != "success" {
		t.Fatalf("notification: got %q, want success", got)
	}
}

// post posts body to h in process with ctx as the request's context and
// returns the reply's body.
func post(ctx context.Context, h http.Handler, body string) string {
	req := httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader(body)).WithContext(ctx)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Body.String()
}

// freshSettlementBudget is what one fresh paid notification costs on each
// dialect, through the handler with the Store as its own Locker and a hook
// that does nothing (docs/several-instances.md explains each one). A
// change that adds a statement or a transaction fails here; one that
// saves some updates these figures and the document. On MySQL the driver
// prepares every statement that has arguments (one more round trip each)
// unless the DSN sets interpolateParams=true; the test's DSN does not.
//
// purged counts, on MySQL, what follows the reply: the DELETE of the
// lease row that the record released in place (one statement, one round
// trip once prepared), which the test waits for before it counts.
var freshSettlementBudget = map[sqlstore.Dialect]struct{ statements, transactions, roundTrips, purged int }{
	sqlstore.Postgres: {3, 0, 3, 0},
	sqlstore.MySQL:    {6, 1, 8, 1},
	sqlstore.SQLite:   {10, 2, 14, 0},
}

// TestFreshSettlementRoundTrips counts, with a counting database/sql
// driver, the statements and transactions of one fresh paid notification
// from its arrival to its answer: a count, not a time, so it is the same
// on every machine.
func TestFreshSettlementRoundTrips(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		if tg.name == "sqlite-memory" {
			t.Skip("the same statements as sqlite-file")
		}
		prefix := newPrefix(t, tg, db)
		cdb, n := countingDB(t, tg, dsn)
		if tg.driver == "mysql" || tg.driver == "pgx" {
			// Prepare once per connection, as a warm pool has: what is
			// counted is the steady state, not a cold connection's setup.
			cdb.SetMaxOpenConns(1)
		}
		s, err := sqlstore.New(cdb, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		h := notifyOn(t, s)
		want := freshSettlementBudget[tg.dialect]
		for i := range 3 { // the first on a cold connection, the others warm
			o := order(fmt.Sprintf("RT%d", i), 1)
			o.MchID = benchMchID
			create(t, s, o)
			body := paidBody(t, o)
			n.take()
			deliver(t, h, body)
			waitPurged(t, s)
			statements, txns, rt, log := n.take()
			if got := get(t, s, o.OutTradeNo); got.Status != store.Paid || !got.Fulfilled {
				t.Fatalf("%s after the notification: %s, fulfilled=%v; want PAID and fulfilled", o.OutTradeNo, got.Status, got.Fulfilled)
			}
			if left := leaseRows(t, db, prefix); left != 0 {
				t.Fatalf("%d lease rows left after the fulfilment; want none", left)
			}
			if i == 0 {
				continue
			}
			t.Logf("%d statements, %d transactions, %d round trips: %s", statements, txns, rt, strings.Join(log, "; "))
			if statements != want.statements+want.purged || txns != want.transactions || rt != want.roundTrips+want.purged {
				t.Errorf("a fresh settlement and what follows it: got %d statements, %d transactions, %d round trips; want %d, %d, %d",
					statements, txns, rt, want.statements+want.purged, want.transactions, want.roundTrips+want.purged)
			}
		}
	})
}

// TestConcurrentSettlementsDoNotDeadlock: settlements of different
// attempts that carry money facts, 16 at a time, on MySQL: none is aborted
// as a deadlock. Deleting the attempt's (absent) money facts and then
// inserting them took a gap lock and an insert intention lock on the same
// gap, so two settlements deadlocked each other; InnoDB aborted one, the
// store ran it again, and under a storm of fresh payments the retries
// could run out. Plant killed: DELETE then INSERT of the money facts.
func TestConcurrentSettlementsDoNotDeadlock(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		if tg.dialect != sqlstore.MySQL {
			t.Skip("gap locks are InnoDB's")
		}
		prefix := newPrefix(t, tg, db)
		cdb, n := countingDB(t, tg, dsn)
		cdb.SetMaxOpenConns(16)
		s, err := sqlstore.New(cdb, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		const workers, each = 16, 25
		for i := range workers * each {
			create(t, s, order(fmt.Sprintf("DL%03d", i), 1))
		}
		pay := store.Payment{TransactionID: "T1", PaidAt: t0,
			Money: store.MoneyFacts{Recorded: true, CashFee: 1999, FeeType: "CNY", BankType: "CFT"}}
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < workers*each; i += workers {
					if _, err := s.Settle(context.Background(), fmt.Sprintf("DL%03dA001", i), pay, t0); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Settle: %v", err)
		}
		if d := n.deadlocks.Load(); d > 0 {
			t.Errorf("%d settlements were aborted as deadlocks, want none", d)
		}
	})
}

// waitPurged waits, at most 20 s, until s has deleted the lease rows it
// released in place (MySQL; nothing elsewhere).
func waitPurged(t testing.TB, s *sqlstore.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sqlstore.WaitPurged(ctx, s); err != nil {
		t.Fatalf("lease rows released in place still not deleted: %v", err)
	}
}

// leaseRows counts the rows of the lease table under prefix.
func leaseRows(t testing.TB, db *sql.DB, prefix string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + prefix + "leases").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
