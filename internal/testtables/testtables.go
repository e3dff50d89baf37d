// Package testtables finds and drops the tables a test created under its
// own prefix on a shared test database (PostgreSQL, MySQL/MariaDB,
// SQLite). Tests read the names from the database's catalogue rather
// than from a list of their own: a list falls behind each migration that
// adds a table, and every run then leaves tables behind on the servers.
package testtables

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"
)

// List returns the tables whose names start with prefix, in the current
// schema (engine "postgres"), the current database ("mysql") or the file
// (anything else: SQLite). prefix is the tests' kind: letters, digits
// and underscores.
func List(ctx context.Context, db *sql.DB, engine, prefix string) ([]string, error) {
	var q string
	switch engine {
	case "postgres":
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE $1"
	case "mysql":
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?"
	default:
		q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?"
	}
	// LIKE reads an underscore in the prefix as any character:
	// HasPrefix below makes the match exact.
	rows, err := db.QueryContext(ctx, q, prefix+"%")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		if strings.HasPrefix(name, prefix) {
			tables = append(tables, name)
		}
	}
	return tables, rows.Err()
}

// Drop drops every table List finds, and returns the first error.
func Drop(ctx context.Context, db *sql.DB, engine, prefix string) error {
	tables, err := List(ctx, db, engine, prefix)
	if err != nil {
		return err
	}
	for _, table := range tables {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
			return err
		}
	}
	return nil
}

// DropT is Drop for a test's clean-up: bounded to 30 s, with a failure
// reported on t instead of returned.
func DropT(t testing.TB, db *sql.DB, engine, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Drop(ctx, db, engine, prefix); err != nil {
		t.Errorf("drop the tables of %s: %v", prefix, err)
	}
}
