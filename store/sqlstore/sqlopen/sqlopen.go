// Package sqlopen opens the database that a URL names, with a driver
// linked in for each dialect sqlstore supports and a bounded connection
// pool: the -db flag of the demo shop and of the cypay command.
//
//	sqlite:PATH                          SQLite (modernc.org/sqlite, no cgo)
//	postgres://user:pass@host:5432/db    PostgreSQL (pgx); postgresql:// too
//	mysql://user:pass@host:3306/db       MySQL, MariaDB, TiDB (go-sql-driver/mysql)
//
// sqlstore itself imports no driver; a program that wants the three, and
// the same flag syntax as the kit's own commands, imports this package.
package sqlopen

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cypaykit/kit/store/sqlstore"

	_ "github.com/go-sql-driver/mysql" // the "mysql" driver
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "modernc.org/sqlite"             // the "sqlite" driver
)

// Pool bounds for PostgreSQL and MySQL. Unbounded, a burst of duplicate
// notifications opens a connection per request until the server refuses
// more (PostgreSQL's max_connections is 100 by default, shared by every
// instance) and requests fail; bounded, they queue for a connection
// inside their deadline. Twenty suits one instance of a small shop; size
// it as (database's connection limit) / (instances), leaving room for
// the rest, with SetMaxOpenConns on the *sql.DB that Open returns.
const (
	MaxOpenConns    = 20
	maxIdleConns    = 10
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 5 * time.Minute
)

// Target is a parsed database URL: what to open and how.
type Target struct {
	// Dialect is sqlstore's name for the database.
	Dialect sqlstore.Dialect
	// Driver is the database/sql driver name: "sqlite", "pgx" or "mysql".
	Driver string
	// DSN is what the driver opens. It holds the password, if any: never
	// print it (String does not).
	DSN string
	// Path is the SQLite file ("" for a database server).
	Path string
	// url is the URL as given, for String.
	url string
}

// Parse reads a database URL: sqlite:PATH, postgres://…, postgresql://…
// or mysql://user:pass@host:port/database?options. A mysql:// URL becomes
// the driver's user:pass@tcp(host:port)/database?options&parseTime=true.
// Errors never show a password.
func Parse(s string) (Target, error) {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		path := strings.TrimPrefix(s, "sqlite:")
		if path == "" {
			return Target{}, errors.New("sqlite: needs a path, e.g. sqlite:./shop.db")
		}
		return Target{Dialect: sqlstore.SQLite, Driver: "sqlite", DSN: sqliteDSN(path), Path: path, url: s}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return Target{Dialect: sqlstore.Postgres, Driver: "pgx", DSN: s, url: s}, nil
	case strings.HasPrefix(s, "mysql://"):
		dsn, err := mysqlDSN(s)
		if err != nil {
			return Target{}, err
		}
		return Target{Dialect: sqlstore.MySQL, Driver: "mysql", DSN: dsn, url: s}, nil
	}
	return Target{}, fmt.Errorf("%q: want sqlite:PATH, postgres://… or mysql://…", Redact(s))
}

// String is the URL as given, with any password hidden.
func (t Target) String() string { return Redact(t.url) }

// Open opens t with a bounded pool: MaxOpenConns for a server, one
// connection for SQLite (one writer at a time is what SQLite does anyway;
// one connection turns "database is locked" into waiting). For SQLite it
// creates the file's directory, mode 0700: the file holds the shop's
// orders. It does not connect; ping the *sql.DB to know that it answers.
func (t Target) Open() (*sql.DB, error) {
	if t.Driver == "" {
		return nil, errors.New("sqlopen: Open of a zero Target; use Parse")
	}
	if t.Path != "" {
		if dir := filepath.Dir(t.Path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("sqlite: %w", err)
			}
		}
	}
	db, err := sql.Open(t.Driver, t.DSN)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", t.Dialect, err)
	}
	if t.Dialect == sqlstore.SQLite {
		db.SetMaxOpenConns(1)
		return db, nil
	}
	db.SetMaxOpenConns(MaxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxLifetime(connMaxLifetime)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	return db, nil
}

// mysqlDSN turns mysql://user:pass@host:port/db?opts into the driver's
// user:pass@tcp(host:port)/db?opts, adding parseTime=true.
func mysqlDSN(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return "", fmt.Errorf("%q: want mysql://user:pass@host:port/database", Redact(s))
	}
	q := u.Query()
	q.Set("parseTime", "true")
	var userinfo string
	if u.User != nil {
		userinfo = u.User.Username()
		if p, ok := u.User.Password(); ok {
			userinfo += ":" + p
		}
		userinfo += "@"
	}
	return fmt.Sprintf("%stcp(%s)/%s?%s", userinfo, u.Host, strings.Trim(u.Path, "/"), q.Encode()), nil
}

// Redact hides the password of a URL, so that it never reaches an error
// message or a log.
func Redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// sqliteDSN asks modernc.org/sqlite to wait for locks rather than fail, and
// to use WAL so that status reads do not block the notification's write.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	return "file:" + path + "?" + q.Encode()
}
