package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cypaykit/kit/internal/batchq"
	"github.com/cypaykit/kit/store"
)

// Dialect names the SQL flavour of the database behind the *sql.DB.
type Dialect string

// Dialects. Each decides placeholders ($1 or ?), column types, the lock
// that serialises Migrate, and how a unique violation is recognised.
const (
	// SQLite is SQLite 3 through any database/sql driver (tests use the
	// pure-Go modernc.org/sqlite).
	SQLite Dialect = "sqlite"
	// Postgres is PostgreSQL 12 or later (tests use pgx's stdlib driver).
	Postgres Dialect = "postgres"
	// MySQL is MySQL 8 or MariaDB 10.5 or later through
	// github.com/go-sql-driver/mysql.
	MySQL Dialect = "mysql"
)

// DefaultTablePrefix is the table prefix used when Config.TablePrefix is
// empty: the tables are cypay_orders and cypay_schema_version.
const DefaultTablePrefix = "cypay_"

// Errors returned by New and Schema.
var (
	ErrDialect = errors.New("sqlstore: unknown dialect")
	ErrPrefix  = errors.New("sqlstore: invalid table prefix")
	ErrNoDB    = errors.New("sqlstore: nil *sql.DB")
)

// Config configures a Store.
type Config struct {
	// Dialect is the database's SQL flavour. Required: the zero value is
	// ErrDialect.
	Dialect Dialect
	// TablePrefix starts every table and index name, so several stores
	// (or test runs) can share one database. It must match
	// ^[a-z_][a-z0-9_]{0,31}$; empty means DefaultTablePrefix.
	TablePrefix string
	// ClockSkew is the most that the clocks of two machines judging one
	// lease may differ: the database nodes' for the Locker's leases and
	// the migration lock (expiry is the clock of the node that runs the
	// statement, on TiDB the TiDB server's), the app instances' for refund
	// claims (judged by the caller's now). A lease or refund claim is only
	// taken over once it has been expired for ClockSkew. Zero means
	// DefaultClockSkew; a negative value means none.
	ClockSkew time.Duration
}

// DefaultClockSkew is Config.ClockSkew's default: NTP keeps servers within
// a few milliseconds of each other, and 500 ms leaves a margin for a node
// whose synchronisation is failing before its operators notice.
const DefaultClockSkew = 500 * time.Millisecond

func (c Config) clockSkew() time.Duration {
	switch {
	case c.ClockSkew == 0:
		return DefaultClockSkew
	case c.ClockSkew < 0:
		return 0
	}
	return c.ClockSkew
}

// Store is a store.OrderStore and store.RefundStore on database/sql. It is safe for concurrent
// use by goroutines and by processes sharing the database.
//
// A Store is also a store.Locker (with TryAcquire and Extend): its leases
// are the rows of <prefix>leases, exactly as a Locker from NewLocker on
// the same database and prefix would keep them. So a Settler given only
// the Store serialises the fulfilment hook across every process sharing
// the tables, with no Locker to wire and nothing to forget.
type Store struct {
	db      *sql.DB
	dialect Dialect
	prefix  string
	q       queries
	rq      refundQueries
	lease   *Locker
	skew    time.Duration
	stmts   *stmtCache // nil but on MySQL: see prepared.go
	// released queues, on MySQL, the names of leases that
	// markReleaseAlone released in place, for purgeReleased to delete.
	released *batchq.Queue[string]
	serverState
	// incStep is MySQL's auto_increment_increment, read by the first
	// multi-row inbox insert (0: not read yet).
	incStep atomic.Int64
}

var (
	_ store.OrderStore = (*Store)(nil)
	_ store.Closer     = (*Store)(nil)
	_ store.TryLocker  = (*Store)(nil)
	_ store.Extender   = (*Store)(nil)
)

var prefixRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,31}$`)

// New returns a Store over db. It validates cfg but does not touch the
// database: call Migrate, or apply Schema yourself, before first use.
func New(db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, ErrNoDB
	}
	prefix, err := checkConfig(cfg.Dialect, cfg.TablePrefix)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, dialect: cfg.Dialect, prefix: prefix}
	s.skew = cfg.clockSkew()
	s.q = buildQueries(cfg.Dialect, prefix, s.skew)
	s.rq = buildRefundQueries(cfg.Dialect, prefix)
	s.lease = newLocker(db, cfg.Dialect, prefix+"leases", s.skew)
	s.stmts = newStmtCache(s)
	if cfg.Dialect == MySQL {
		s.released = batchq.New(releasedLimits, func(name string) int { return len(name) }, s.purgeReleased, nil)
	}
	return s, nil
}

func checkConfig(d Dialect, prefix string) (string, error) {
	switch d {
	case SQLite, Postgres, MySQL:
	default:
		return "", fmt.Errorf("%w %q", ErrDialect, string(d))
	}
	if prefix == "" {
		prefix = DefaultTablePrefix
	}
	if !prefixRE.MatchString(prefix) {
		return "", fmt.Errorf("%w %q: want ^[a-z_][a-z0-9_]{0,31}$", ErrPrefix, prefix)
	}
	return prefix, nil
}

// rebind turns ? placeholders into the dialect's. The kit's statements
// never contain a literal question mark, so a plain scan is enough.
func rebind(d Dialect, query string) string {
	if d != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// lockKey derives the Postgres advisory-lock key (and the MySQL lock
// name's suffix) from the prefix, so migrations of unrelated prefixes in
// one database do not wait for each other.
func lockKey(prefix string) int64 {
	h := fnv.New64a()
	h.Write([]byte("cypaykit/sqlstore/migrate:" + prefix))
	return int64(h.Sum64())
}
