// Package storetest is the conformance suite every store.OrderStore,
// store.Scheduler, store.RefundStore and store.Locker implementation must
// pass; store/memstore passes it, and the suite is itself shown to fail on
// deliberately broken implementations.
package storetest

import (
	"testing"

	"github.com/cypaykit/kit/store"
)

// Harness is what one subtest gets: a fresh, empty store and/or locker.
// The schedule tests run when Store also implements store.Scheduler.
type Harness struct {
	Store  store.OrderStore // nil skips the order-store and schedule tests
	Locker store.Locker     // nil skips the locker tests
	// Refunds is the RefundStore over Store's data (usually the same
	// value); nil skips the refund tests.
	Refunds store.RefundStore
	// Peer opens a Locker of a second instance on the same data, as
	// another process of the host would: the same database or server, its
	// own connection pool or client, the same table or key prefix. The
	// LockPeer* subtests check that a lease taken through Locker holds
	// against it and the other way round, which no single-instance test
	// can see. It registers its own t.Cleanup. Nil skips them (memstore
	// lives in one process and has no second instance).
	Peer func(t *testing.T) store.Locker
}

// RunConformanceTests runs every subtest against a fresh harness from
// newHarness (called once per subtest; it registers its own t.Cleanup).
// An implementation's tests call it once:
//
//	func TestConformance(t *testing.T) {
//		storetest.RunConformanceTests(t, func(t *testing.T) storetest.Harness {
//			s := mystore.Open(t) // empty; closed by a t.Cleanup
//			return storetest.Harness{Store: s, Locker: s, Refunds: s}
//		})
//	}
//
// Subtests are flat and named, so one can be selected with
// -run 'TestX/SettleConcurrent'. They run one after another, never in
// parallel, so a harness may share one database as long as each call
// hands out an empty store.
//
// Stores may keep times at microsecond precision (SQL timestamps do) and
// may return them in any location: the suite compares instants, not
// representations, and tolerates a difference of less than a microsecond.
//
// A Locker that also implements store.TryLocker or store.Extender gets
// those capabilities tested too (the Lock* subtests named after them); one
// that does not skips them.
func RunConformanceTests(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	for _, tc := range orderTests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if h.Store == nil {
				t.Skip("storetest: harness has no OrderStore")
			}
			tc.fn(t, h.Store)
		})
	}
	for _, tc := range scheduleTests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			sc, ok := h.Store.(store.Scheduler)
			if !ok {
				t.Skip("storetest: harness has no OrderStore that is a store.Scheduler")
			}
			tc.fn(t, h.Store, sc)
		})
	}
	for _, tc := range closerTests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			c, ok := h.Store.(store.Closer)
			if !ok {
				t.Skip("storetest: harness has no OrderStore that is a store.Closer")
			}
			tc.fn(t, c)
		})
	}
	for _, tc := range refundTests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if h.Store == nil || h.Refunds == nil {
				t.Skip("storetest: harness has no RefundStore")
			}
			tc.fn(t, h.Store, h.Refunds)
		})
	}
	for _, tc := range peerTests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if h.Locker == nil || h.Peer == nil {
				t.Skip("storetest: harness has no Locker with a Peer")
			}
			tc.fn(t, h.Locker, h.Peer(t))
		})
	}
	for _, tc := range append(lockerTests[:len(lockerTests):len(lockerTests)], leaseTests...) {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if h.Locker == nil {
				t.Skip("storetest: harness has no Locker")
			}
			tc.fn(t, h.Locker)
		})
	}
}

type orderTest struct {
	name string
	fn   func(t *testing.T, s store.OrderStore)
}

type lockerTest struct {
	name string
	fn   func(t *testing.T, l store.Locker)
}

type peerTest struct {
	name string
	fn   func(t *testing.T, l, peer store.Locker)
}
