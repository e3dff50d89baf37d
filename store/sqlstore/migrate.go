package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// execer is what a migration runs on: a *sql.Tx or a *sql.Conn.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Migrate creates or upgrades the store's tables to LatestVersion. It is
// idempotent and safe to run from several processes at once: the first
// one takes a database lock (PostgreSQL: pg_advisory_xact_lock; MySQL:
// GET_LOCK; SQLite: BEGIN IMMEDIATE) and the others wait for it, then find
// nothing left to do. Applied versions are recorded in
// <prefix>schema_version.
func (s *Store) Migrate(ctx context.Context) error {
	var err error
	switch s.dialect {
	case Postgres:
		err = s.migratePostgres(ctx)
	case MySQL:
		err = s.migrateMySQL(ctx)
	default:
		err = s.migrateSQLite(ctx)
	}
	if err != nil {
		return s.fail(ctx, "migrate", err)
	}
	return nil
}

func (s *Store) migratePostgres(ctx context.Context) error {
	// Postgres DDL is transactional: the lock, the tables and the version
	// rows commit together or not at all.
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(s.prefix)); err != nil {
			return err
		}
		return s.applyMigrations(ctx, tx)
	})
}

func (s *Store) migrateSQLite(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// database/sql's BeginTx issues a deferred BEGIN; IMMEDIATE takes the
	// write lock up front, so two migrators queue on busy_timeout instead
	// of both reading version 0.
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if err := s.applyMigrations(ctx, conn); err != nil {
		if _, rbErr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil {
			discard(conn)
		}
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		discard(conn)
		return err
	}
	return nil
}

// mysqlLockWait is how long one GET_LOCK call waits before Migrate looks
// at ctx again.
const mysqlLockWait = 1

func (s *Store) migrateMySQL(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// GET_LOCK belongs to the session, so everything runs on one
	// connection. MySQL commits each DDL statement by itself, which is why
	// every migration statement is idempotent.
	name := fmt.Sprintf("cypaykit.migrate.%x", uint64(lockKey(s.prefix)))
	for {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, mysqlLockWait).Scan(&got); err != nil {
			return err
		}
		if got.Valid && got.Int64 == 1 {
			break
		}
		if !got.Valid {
			return errors.New("GET_LOCK failed")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	err = s.applyMigrations(ctx, conn)
	if _, relErr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", name); relErr != nil {
		// A pooled connection must not keep the lock: close it instead.
		discard(conn)
	}
	return err
}

// discard makes database/sql close conn rather than pool it, because its
// session state (an open transaction, a named lock) is unknown.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

func (s *Store) applyMigrations(ctx context.Context, q execer) error {
	if _, err := q.ExecContext(ctx, createVersionTable(s.dialect, s.prefix)); err != nil {
		return err
	}
	// Applied versions are a set, not a high-water mark: a database that
	// took a later migration first (versions landed out of order on a
	// development branch, or a team applied Schema piecemeal) still gets
	// every earlier one. Every statement is idempotent, so this is safe.
	applied := map[int]bool{}
	rows, err := q.QueryContext(ctx, fmt.Sprintf("SELECT version FROM %sschema_version", s.prefix))
	if err != nil {
		return err
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		for _, stmt := range m.stmts(s.dialect, s.prefix) {
			if _, err := q.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("version %d: %w", m.version, err)
			}
		}
		if _, err := q.ExecContext(ctx, recordVersion(s.dialect, s.prefix, m.version, time.Now().UnixMicro())); err != nil {
			return fmt.Errorf("version %d: %w", m.version, err)
		}
	}
	return nil
}
