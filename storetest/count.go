package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/cypaykit/kit/store"
)

// The count tests are optional capabilities: they skip for a store that
// does not implement store.PendingCounter.
func init() {
	orderTests = append(orderTests,
		orderTest{"CountPending", testCountPending},
		orderTest{"CountPendingCanceled", testCountPendingCanceled},
	)
}

func pendingCounter(t *testing.T, s store.OrderStore) store.PendingCounter {
	t.Helper()
	c, ok := s.(store.PendingCounter)
	if !ok {
		t.Skip("storetest: store does not implement store.PendingCounter")
	}
	return c
}

func wantPending(t *testing.T, c store.PendingCounter, want int64) {
	t.Helper()
	got, err := c.CountPending(context.Background())
	if err != nil {
		t.Fatalf("CountPending: got error %v, want nil", err)
	}
	if got != want {
		t.Fatalf("CountPending: got %d, want %d", got, want)
	}
}

func testCountPending(t *testing.T, s store.OrderStore) {
	c := pendingCounter(t, s)
	wantPending(t, c, 0)
	for n := 1; n <= 4; n++ {
		create(t, s, newOrder("BIZC", n))
	}
	wantPending(t, c, 4)
	settle(t, s, newOrder("BIZC", 1).OutTradeNo, payment("TC1"), at(2))
	finish(t, s, newOrder("BIZC", 2).OutTradeNo, store.Closed, at(3))
	finish(t, s, newOrder("BIZC", 3).OutTradeNo, store.Failed, at(3))
	wantPending(t, c, 1)
}

func testCountPendingCanceled(t *testing.T, s store.OrderStore) {
	c := pendingCounter(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.CountPending(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("CountPending on a canceled context: got %v, want context.Canceled", err)
	}
}
