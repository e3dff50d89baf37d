package sqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/cypaykit/kit/storetest"
)

func TestConformance(t *testing.T) {
	forTargets(t, append(append([]target{}, targets...), simTargets...), func(t *testing.T, tg target, dsn string, db *sql.DB) {
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
			// The Store is its own Locker (delegating to the Locker
			// type, on the same lease table), which is how the kit wires
			// it when no other Locker is given.
			s, _ := newStorePrefix(t, tg, db)
			return storetest.Harness{Store: s, Locker: s, Refunds: s}
		})
	})
}
