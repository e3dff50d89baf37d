package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// fail wraps err for op. When ctx has ended, the result also wraps
// ctx.Err(), because drivers report a cancelled query in their own words
// and callers test errors.Is(err, context.Canceled).
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, ctxErr, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// isUniqueViolation recognises a duplicate key without importing a driver:
// the drivers' error types are matched by method or by message.
func isUniqueViolation(d Dialect, err error) bool {
	switch d {
	case Postgres:
		// pgconn.PgError and lib/pq's Error both have SQLState().
		var e interface{ SQLState() string }
		if errors.As(err, &e) {
			return e.SQLState() == "23505"
		}
		return strings.Contains(err.Error(), "SQLSTATE 23505")
	case MySQL:
		// go-sql-driver's MySQLError has fields but no methods to match,
		// and formats itself as "Error 1062 (23000): Duplicate entry ...".
		msg := err.Error()
		return strings.Contains(msg, "Error 1062") || strings.Contains(msg, "Duplicate entry")
	default:
		// modernc.org/sqlite: Code() is the extended result code, whose
		// low byte is SQLITE_CONSTRAINT (19); 1555 is PRIMARYKEY and 2067
		// UNIQUE. mattn/go-sqlite3 is matched by its message.
		var e interface{ Code() int }
		if errors.As(err, &e) {
			c := e.Code()
			return c == 1555 || c == 2067
		}
		return strings.Contains(err.Error(), "UNIQUE constraint failed")
	}
}
