package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/store/sqlstore"
)

// tableSets hands out migrated table sets on one shared database (a
// server, or a simulated one on it) to the subtests of a suite that each
// want an empty store of their own, and takes them back emptied: a subtest
// then costs a DELETE per table instead of creating every table and
// dropping it again, which was most of the conformance suite's time on the
// servers. An emptied set is what a fresh one is: the same tables,
// migrated, without a row (schema_version keeps the rows Migrate wrote).
//
// A set is only emptied once no session the subtest opened is left on
// the server. A statement whose caller gave up (a context that ended)
// can still run, and commit, in the server after the client moved on; on
// a reused set it would land in the next subtest's tables (it did: a late
// lease take held "job" in the next subtest). So every subtest gets pools
// of its own (sessions whose server ids are recorded), closed when it
// ends, and its set goes back to the free list only after the server
// lists none of those sessions; a set whose sessions do not end within
// sessionsGoneBound is not reused at all (it is dropped with the others).
// The sets are dropped when the test that made tableSets ends.
//
// On SQLite (a file, or an in-memory database pinned by the target's
// handle) the database runs inside this process: a statement returns only
// once SQLite has finished or abandoned it, so when a subtest's handles
// are closed nothing of it can still write, and there are no sessions to
// wait for. Before, each SQLite subtest created, migrated and dropped a
// database of its own, most of those targets' time.
type tableSets struct {
	owner *testing.T
	tg    target
	dsn   string
	admin *sql.DB       // the target's own handle: catalogue, sessions, emptying
	skew  time.Duration // the stores' Config.ClockSkew (zero: the default)

	mu     sync.Mutex
	free   []string
	tables []string // table names without the prefix, read once
}

// sessionsGoneBound bounds the wait for a subtest's sessions to end on
// the server before its set is reused; past it the set is not reused.
const sessionsGoneBound = 30 * time.Second

func newTableSets(owner *testing.T, tg target, dsn string, admin *sql.DB) *tableSets {
	return &tableSets{owner: owner, tg: tg, dsn: dsn, admin: admin}
}

// subtest is one subtest's claim on a table set.
type subtest struct {
	sets   *tableSets
	prefix string

	mu       sync.Mutex
	sessions []int64 // server ids of every session the subtest's pools opened
}

// take returns an empty, migrated table set for t and the function that
// opens t's database handles on it; the set is emptied and handed back
// when t ends, after every handle open returned is closed.
func (p *tableSets) take(t *testing.T) *subtest {
	t.Helper()
	p.mu.Lock()
	var prefix string
	if n := len(p.free); n > 0 {
		prefix, p.free = p.free[n-1], p.free[:n-1]
	}
	p.mu.Unlock()
	if prefix == "" {
		prefix = "t" + randomHex(t, 6) + "_"
		p.owner.Cleanup(func() { dropPrefix(p.owner, p.tg.dialect, p.admin, prefix) })
	} else {
		t.Logf("table set %s reused, emptied", prefix)
	}
	st := &subtest{sets: p, prefix: prefix}
	// Registered before any handle is opened, so it runs after they are
	// all closed (cleanups run last-in, first-out).
	t.Cleanup(func() { st.giveBack(t) })
	return st
}

// store returns a Store on the set over a handle of its own, which
// configure may size before the Store uses it.
func (st *subtest) store(t *testing.T, configure func(*sql.DB)) *sqlstore.Store {
	t.Helper()
	db := st.open(t)
	configure(db)
	s, err := sqlstore.New(db, sqlstore.Config{Dialect: st.sets.tg.dialect, TablePrefix: st.prefix, ClockSkew: st.sets.skew})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// On a set handed back, Migrate finds every version applied.
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// open returns a new handle on the target's database whose sessions are
// recorded, closed when t ends.
func (st *subtest) open(t testing.TB) *sql.DB {
	t.Helper()
	if st.sets.tg.dialect == sqlstore.SQLite {
		// In this process: nothing to record (see tableSets).
		return st.sets.tg.open(t, st.sets.dsn)
	}
	probe, err := sql.Open(st.sets.tg.driver, st.sets.dsn)
	if err != nil {
		t.Fatalf("sql.Open(%s): %v", st.sets.tg.driver, err)
	}
	drv := probe.Driver()
	probe.Close()
	var base driver.Connector = dsnConnector{drv, st.sets.dsn}
	if dc, ok := drv.(driver.DriverContext); ok {
		if base, err = dc.OpenConnector(st.sets.dsn); err != nil {
			t.Fatalf("OpenConnector(%s): %v", st.sets.tg.driver, err)
		}
	}
	db := sql.OpenDB(recordingConnector{base: base, st: st})
	t.Cleanup(func() { db.Close() })
	return db
}

// sessionID is the query for the server's id of the session it runs in,
// as the catalogue of sessions names it.
func sessionID(d sqlstore.Dialect) string {
	if d == sqlstore.Postgres {
		return "SELECT pg_backend_pid()"
	}
	return "SELECT CONNECTION_ID()"
}

// giveBack waits until none of the subtest's sessions is left on the
// server, empties the set and puts it on the free list.
func (st *subtest) giveBack(t *testing.T) {
	t.Helper()
	p := st.sets
	ctx, cancel := context.WithTimeout(context.Background(), sessionsGoneBound)
	defer cancel()
	st.mu.Lock()
	ids := st.sessions
	st.mu.Unlock()
	if !sessionsGone(ctx, p.tg.dialect, p.admin, ids) {
		t.Logf("table set %s not reused: a session of this subtest is still on the server", st.prefix)
		return
	}
	if err := p.empty(ctx, st.prefix); err != nil {
		t.Logf("table set %s not reused: %v", st.prefix, err)
		return
	}
	p.mu.Lock()
	p.free = append(p.free, st.prefix)
	p.mu.Unlock()
}

// sessionsGone polls the server's list of sessions until none of ids is
// in it, and reports false if ctx ends first or the list cannot be read.
func sessionsGone(ctx context.Context, d sqlstore.Dialect, db *sql.DB, ids []int64) bool {
	if len(ids) == 0 {
		return true
	}
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = fmt.Sprint(id)
	}
	q := "SELECT COUNT(*) FROM information_schema.processlist WHERE id IN (" + strings.Join(list, ",") + ")"
	if d == sqlstore.Postgres {
		q = "SELECT COUNT(*) FROM pg_stat_activity WHERE pid IN (" + strings.Join(list, ",") + ")"
	}
	for {
		var n int
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return false
		}
		if n == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond): // polling an outcome with a bound
		}
	}
}

// empty deletes every row of prefix's tables but schema_version's.
func (p *tableSets) empty(ctx context.Context, prefix string) error {
	p.mu.Lock()
	tables := p.tables
	p.mu.Unlock()
	if tables == nil {
		var err error
		if tables, err = prefixTables(ctx, p.tg.dialect, p.admin, prefix); err != nil {
			return fmt.Errorf("list the tables: %w", err)
		}
		for i := range tables {
			tables[i] = strings.TrimPrefix(tables[i], prefix)
		}
		p.mu.Lock()
		p.tables = tables
		p.mu.Unlock()
	}
	for _, table := range tables {
		if table == "schema_version" {
			continue
		}
		var err error
		// A simulated server fails some writes as conflicts: run it again.
		for range 10 {
			if _, err = p.admin.ExecContext(ctx, "DELETE FROM "+prefix+table); err == nil {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("empty %s%s: %w", prefix, table, err)
		}
	}
	return nil
}

// recordingConnector records the server id of every session it opens.
type recordingConnector struct {
	base driver.Connector
	st   *subtest
}

func (c recordingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	id, err := querySessionID(ctx, conn, sessionID(c.st.sets.tg.dialect))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("session id: %w", err)
	}
	c.st.mu.Lock()
	c.st.sessions = append(c.st.sessions, id)
	c.st.mu.Unlock()
	return conn, nil
}

func (c recordingConnector) Driver() driver.Driver { return c.base.Driver() }

func querySessionID(ctx context.Context, conn driver.Conn, query string) (int64, error) {
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return 0, fmt.Errorf("%T cannot query", conn)
	}
	rows, err := q.QueryContext(ctx, query, nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		return 0, err
	}
	var id int64
	switch v := dest[0].(type) {
	case int64:
		id = v
	case int32:
		id = int64(v)
	case uint64:
		id = int64(v)
	case []byte:
		_, err = fmt.Sscan(string(v), &id)
	case string:
		_, err = fmt.Sscan(v, &id)
	default:
		err = fmt.Errorf("session id of type %T", v)
	}
	return id, err
}

// dsnConnector opens connections with a driver that has no connector of
// its own.
type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }

func (c dsnConnector) Driver() driver.Driver { return c.drv }

// TestReusedSetSeesNoLateStatement: a statement whose caller gave up runs
// on in the server (MariaDB finishes a statement whose client hung up)
// and commits; tableSets must not hand its set to the next subtest before
// it has, or the row lands in the next subtest's tables. Plant killed:
// a giveBack that does not wait for the sessions (sessionsGone answering
// true at once).
func TestReusedSetSeesNoLateStatement(t *testing.T) {
	tg := targets[3]
	if tg.name != "mysql" {
		t.Fatalf("targets[3] is %q, want mysql", tg.name)
	}
	dsn := tg.newDSN(t)
	admin := tg.open(t, dsn)
	sets := newTableSets(t, tg, dsn, admin)
	var (
		prefix string
		late   []int64 // the sessions of the subtest that gave up
	)
	t.Run("gives up", func(t *testing.T) {
		st := sets.take(t)
		st.store(t, func(*sql.DB) {})
		prefix = st.prefix
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := st.open(t).ExecContext(ctx,
			"INSERT INTO "+prefix+"leases (name, token, expires_at) SELECT 'late', 'late', SLEEP(2)")
		if err == nil {
			t.Fatal("the statement was not cut off")
		}
		t.Cleanup(func() { // runs before giveBack, after the handles closed
			st.mu.Lock()
			late = append(late, st.sessions...)
			st.mu.Unlock()
		})
	})
	t.Run("next", func(t *testing.T) {
		st := sets.take(t)
		if st.prefix != prefix {
			t.Fatalf("got set %s, want %s again", st.prefix, prefix)
		}
		db := st.open(t)
		ctx, cancel := context.WithTimeout(context.Background(), sessionsGoneBound)
		defer cancel()
		// Whatever the late statement does, it has done once its session
		// is gone.
		if !sessionsGone(ctx, tg.dialect, admin, late) {
			t.Fatal("the late statement's session did not end")
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+prefix+"leases").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("the reused set holds %d lease rows of the previous subtest, want 0", n)
		}
	})
}
