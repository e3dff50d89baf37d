package sqlstore_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
	"github.com/cypaykit/kit/storetest"
)

// conformanceSkew is the stores' Config.ClockSkew in the conformance
// suite. The suite's lease subtests wait for short leases to run out
// (LockExpiry, LockTryAcquireExpired, LockExtendNotHeld twice,
// LockExtendCanceled), and under DefaultClockSkew each of those waits was
// 500 ms longer than the lease: 3 s of waiting per target. None of the
// suite's assertions depends on the margin (memstore, which has none,
// passes it, and a smaller margin only makes a lease free sooner after it
// ran out, never while it is held); the margin itself is
// TestLeaseClockSkew's and TestRefundClaimClockSkew's. It stays positive,
// so the take-over condition still adds one.
const conformanceSkew = time.Millisecond

// TestConformance runs the suite on every target. The targets share
// nothing (each has its own database file, in-memory database or tables),
// so they run side by side, as many at once as -test.parallel allows
// (GOMAXPROCS by default): much of a target's time is waiting (leases
// running out, SQLite's busy handler, lock waits, round trips), not CPU.
// postgres-serializable-sim runs alone, first: its 64- and 100-caller
// races retry serialization failures at most 16 times, and beside other
// targets at load 20-25 they ran out of them.
func TestConformance(t *testing.T) {
	for _, tg := range append(append([]target{}, targets...), simTargets...) {
		t.Run(tg.name, func(t *testing.T) {
			if tg.name != "postgres-serializable-sim" {
				t.Parallel()
			}
			dsn := tg.newDSN(t)
			conformance(t, tg, dsn, tg.open(t, dsn))
		})
	}
}

// conformance runs storetest's suite on tg.
func conformance(t *testing.T, tg target, dsn string, db *sql.DB) {
	// One database for the whole suite: emptied table sets are reused
	// (see tableSets).
	sets := newTableSets(t, tg, dsn, db)
	sets.skew = conformanceSkew
	server := tg.dialect != sqlstore.SQLite
	storetest.RunConformanceTests(t, func(t *testing.T) storetest.Harness {
		// The Store is its own Locker (delegating to the Locker
		// type, on the same lease table), which is how the kit wires
		// it when no other Locker is given.
		st := sets.take(t)
		s := st.store(t, func(db *sql.DB) {
			if server {
				// The suite races up to 100 callers; the servers are
				// shared with other test runs, so queue them on a
				// bounded pool rather than open a connection each
				// (PostgreSQL refuses past max_connections, 100 by
				// default). The simulations are bounded alike:
				// unbounded, postgres-serializable-sim alone opened a
				// connection per caller. A SQLite file's pool stays
				// unbounded, every caller a connection of its own.
				db.SetMaxOpenConns(16)
			}
		})
		h := storetest.Harness{Store: s, Locker: s, Refunds: s}
		if tg.shared {
			// A second process: its own *sql.DB on the same database
			// or file and a Locker on the same lease table.
			h.Peer = func(t *testing.T) store.Locker {
				peer := st.open(t)
				if server {
					peer.SetMaxOpenConns(4)
				}
				return newLockerSkew(t, tg, peer, st.prefix, conformanceSkew)
			}
		}
		return h
	})
}
