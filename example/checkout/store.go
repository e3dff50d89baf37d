package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
	"github.com/cypaykit/kit/store/sqlstore"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// Pool bounds for PostgreSQL and MySQL. Unbounded, a burst of duplicate
// notifications opens a connection per request until the server refuses
// more (PostgreSQL's max_connections is 100 by default, shared by every
// instance) and requests fail; bounded, they queue for a connection
// inside their deadline. Twenty suits a demo instance; size it as
// (database's connection limit) / (instances), leaving room for the rest.
const (
	maxOpenConns    = 20
	maxIdleConns    = 10
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 5 * time.Minute
)

// openStore opens the -db store and the Locker that the Settler shares
// with every other instance on the same -db: memstore's own (it is one
// process's anyway) or the SQL store's lease table.
func openStore(ctx context.Context, dbFlag, tablePrefix string) (store.OrderStore, store.Locker, func() error, error) {
	kind, dsn, err := splitDB(dbFlag)
	if err != nil {
		return nil, nil, nil, err
	}
	if kind == dbMemory {
		s := memstore.New()
		return s, s, func() error { return nil }, nil
	}
	db, dialect, err := openDB(kind, dsn)
	if err != nil {
		return nil, nil, nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, nil, nil, fmt.Errorf("connect to %s: %w", kind, err)
	}
	s, err := sqlstore.New(db, sqlstore.Config{Dialect: dialect, TablePrefix: tablePrefix})
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	if err := s.Migrate(pctx); err != nil {
		db.Close()
		return nil, nil, nil, fmt.Errorf("migrate %s: %w", kind, err)
	}
	// The Store is a store.Locker on its own leases table: every instance
	// on this database shares it.
	return s, s, db.Close, nil
}

// openDB opens a SQL -db with a bounded pool. It does not connect.
func openDB(kind, dsn string) (*sql.DB, sqlstore.Dialect, error) {
	var (
		driver  string
		dialect sqlstore.Dialect
	)
	switch kind {
	case dbSQLite:
		if dir := filepath.Dir(dsn); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, "", fmt.Errorf("sqlite: %w", err)
			}
		}
		driver, dialect, dsn = "sqlite", sqlstore.SQLite, sqliteDSN(dsn)
	case dbPostgres:
		driver, dialect = "pgx", sqlstore.Postgres
	case dbMySQL:
		driver, dialect = "mysql", sqlstore.MySQL
	default:
		return nil, "", fmt.Errorf("open %s: not a SQL database", kind)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", kind, err)
	}
	if kind == dbSQLite {
		// One writer at a time is what SQLite does anyway; one connection
		// turns "database is locked" into waiting.
		db.SetMaxOpenConns(1)
		return db, dialect, nil
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxLifetime(connMaxLifetime)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	return db, dialect, nil
}

// sqliteDSN asks modernc.org/sqlite to wait for locks rather than fail, and
// to use WAL so that status reads do not block the notification's write.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	return "file:" + path + "?" + q.Encode()
}
