package sqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/cypaykit/kit/store"
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
			db, dsn := db, dsn
			if tg.name == "sqlite-file" || tg.name == "sqlite-memory" {
				// A new file or in-memory database per subtest.
				dsn = tg.newDSN(t)
				db = tg.open(t, dsn)
			}
			// The Store is its own Locker (delegating to the Locker
			// type, on the same lease table), which is how the kit wires
			// it when no other Locker is given.
			s, prefix := newStorePrefix(t, tg, db)
			h := storetest.Harness{Store: s, Locker: s, Refunds: s}
			if tg.shared {
				// A second process: its own *sql.DB on the same database
				// and a Locker on the same lease table.
				h.Peer = func(t *testing.T) store.Locker {
					peer := tg.open(t, dsn)
					if tg.server {
						peer.SetMaxOpenConns(4)
					}
					return newLocker(t, tg, peer, prefix)
				}
			}
			return h
		})
	})
}
