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

// openStore opens the -db store. The Locker is nil where the store has
// none of its own: the kit then uses a process-local one, which is right
// for a single demo instance.
func openStore(ctx context.Context, dbFlag, tablePrefix string) (store.OrderStore, store.Locker, func() error, error) {
	kind, dsn, err := splitDB(dbFlag)
	if err != nil {
		return nil, nil, nil, err
	}
	if kind == dbMemory {
		s := memstore.New()
		return s, s, func() error { return nil }, nil
	}
	var (
		driver  string
		dialect sqlstore.Dialect
	)
	switch kind {
	case dbSQLite:
		if dir := filepath.Dir(dsn); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, nil, nil, fmt.Errorf("sqlite: %w", err)
			}
		}
		driver, dialect, dsn = "sqlite", sqlstore.SQLite, sqliteDSN(dsn)
	case dbPostgres:
		driver, dialect = "pgx", sqlstore.Postgres
	case dbMySQL:
		driver, dialect = "mysql", sqlstore.MySQL
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open %s: %w", kind, err)
	}
	if kind == dbSQLite {
		// One writer at a time is what SQLite does anyway; one connection
		// turns "database is locked" into waiting.
		db.SetMaxOpenConns(1)
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
	var locker store.Locker
	if l, ok := any(s).(store.Locker); ok {
		locker = l
	}
	return s, locker, db.Close, nil
}

// sqliteDSN asks modernc.org/sqlite to wait for locks rather than fail, and
// to use WAL so that status reads do not block the notification's write.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	return "file:" + path + "?" + q.Encode()
}
