package sqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/cypaykit/kit/store/sqlstore"
	"github.com/cypaykit/kit/storetest"
)

func TestConformance(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		if tg.server {
			// The suite races up to 100 callers; the servers are shared
			// with other test runs, so queue them on a bounded pool
			// rather than open a connection each (PostgreSQL refuses past
			// max_connections).
			db.SetMaxOpenConns(16)
		}
		storetest.RunConformanceTests(t, func(t *testing.T) storetest.Harness {
			if tg.name == "sqlite-file" || tg.name == "sqlite-memory" {
				// A new file or in-memory database per subtest.
				db = tg.open(t, tg.newDSN(t))
			}
			s, prefix := newStorePrefix(t, tg, db)
			l, err := sqlstore.NewLocker(db, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
			if err != nil {
				t.Fatalf("NewLocker: %v", err)
			}
			return storetest.Harness{Store: s, Locker: l, Refunds: s}
		})
	})
}
