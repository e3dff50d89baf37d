package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cypaykit/kit/store"
)

// execer is what a migration runs on (a *sql.Tx or a *sql.Conn), and a
// multi-row INSERT (the *sql.DB or a *sql.Tx).
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Migrate creates or upgrades the store's tables to LatestVersion. It is
// idempotent and safe to run from several processes at once: the first
// one takes a database lock (PostgreSQL: pg_advisory_xact_lock; MySQL:
// GET_LOCK, or where that is missing, as on OceanBase, a lease row in
// <prefix>migrate_leases; SQLite: BEGIN IMMEDIATE) and the others wait for
// it, then find
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
	// A new connection runs the DSN's pragmas, and journal_mode(WAL) on a
	// new file that other connections are opening at the same time (several
	// processes starting at once) may answer SQLITE_BUSY at once, without
	// the busy handler: SQLite skips it where waiting could deadlock. Seen
	// in 5 of 300 runs of TestMigrateConcurrent; the answer is to try again.
	var conn *sql.Conn
	_, err := retryWhile(ctx, sqliteBusy, func() (err error) {
		conn, err = s.db.Conn(ctx)
		return err
	})
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

// The migration lease, where GET_LOCK is missing: held for
// migrateLeaseTTL and extended every third of it while Migrate runs.
const (
	migrateLeaseTTL  = 30 * time.Second
	migrateLeaseName = "migrate"
)

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
			if namedLockMissing(err) {
				conn.Close()
				return s.migrateLeased(ctx)
			}
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
	err = retryConflicts(ctx, s.dialect, func() error { return s.applyMigrations(ctx, conn) })
	if _, relErr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", name); relErr != nil {
		// A pooled connection must not keep the lock: close it instead.
		discard(conn)
	}
	return err
}

// namedLockMissing recognises a server without GET_LOCK, or one that
// refuses it, as opposed to a failure of the call: OceanBase has no such
// function (error 1305, which is why Flyway stopped calling it there),
// older TiDB answers that it has only a no-op implementation, and MariaDB
// Galera clusters refuse it. Each answers every instance alike, so all of
// them fall back to the same lock.
func namedLockMissing(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "error 1305") ||
		strings.Contains(msg, "get_lock") && (strings.Contains(msg, "not supported") || strings.Contains(msg, "noop") ||
			strings.Contains(msg, "does not exist") || strings.Contains(msg, "cluster"))
}

// migrateLeased is Migrate serialised by a row-based lease instead of a
// named lock: a row of <prefix>migrate_leases, taken like the Locker's
// leases (expiry by the database's clock, with Config.ClockSkew's margin)
// and extended while the migrations run, so a Migrate that dies leaves
// the lock to the next one after migrateLeaseTTL at most. Creating the
// table is idempotent, so concurrent instances race on it safely.
func (s *Store) migrateLeased(ctx context.Context) error {
	table := s.prefix + "migrate_leases"
	if _, err := s.db.ExecContext(ctx, createLeaseTable(s.dialect, table)); err != nil {
		return err
	}
	l := newLocker(s.db, s.dialect, table, s.skew)
	token, err := l.Acquire(ctx, migrateLeaseName, migrateLeaseTTL)
	if err != nil {
		return err
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(migrateLeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				// A failed extension is not fatal: every statement is
				// idempotent, so a second migrator is slow, not wrong.
				_ = l.Extend(context.WithoutCancel(ctx), migrateLeaseName, token, migrateLeaseTTL)
			}
		}
	}()
	err = retryConflicts(ctx, s.dialect, func() error { return s.applyMigrations(ctx, s.db) })
	close(done)
	<-stopped
	if relErr := l.Release(context.WithoutCancel(ctx), migrateLeaseName, token); err == nil && !errors.Is(relErr, store.ErrNotHeld) {
		err = relErr
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
