package handler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// callCounter is a memstore that counts the calls a settlement makes to
// its settle, record and lease methods.
type callCounter struct {
	*memstore.Store
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) count(name string) {
	c.mu.Lock()
	c.calls[name]++
	c.mu.Unlock()
}

func (c *callCounter) got() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

func (c *callCounter) Settle(ctx context.Context, otn string, p store.Payment, now time.Time) (bool, error) {
	c.count("Settle")
	return c.Store.Settle(ctx, otn, p, now)
}

func (c *callCounter) MarkFulfilled(ctx context.Context, otn string, now time.Time) error {
	c.count("MarkFulfilled")
	return c.Store.MarkFulfilled(ctx, otn, now)
}

func (c *callCounter) Acquire(ctx context.Context, name string, ttl time.Duration) (string, error) {
	c.count("Acquire")
	return c.Store.Acquire(ctx, name, ttl)
}

func (c *callCounter) TryAcquire(ctx context.Context, name string, ttl time.Duration) (string, bool, error) {
	c.count("TryAcquire")
	return c.Store.TryAcquire(ctx, name, ttl)
}

func (c *callCounter) Release(ctx context.Context, name, token string) error {
	c.count("Release")
	return c.Store.Release(ctx, name, token)
}

func (c *callCounter) SettleAndTryAcquire(ctx context.Context, otn string, p store.Payment, now time.Time, name string, ttl time.Duration) (bool, string, bool, error) {
	c.count("SettleAndTryAcquire")
	return c.Store.SettleAndTryAcquire(ctx, otn, p, now, name, ttl)
}

func (c *callCounter) Get(ctx context.Context, otn string) (*store.Order, error) {
	c.count("Get")
	return c.Store.Get(ctx, otn)
}

func (c *callCounter) ReadSettleAndTryAcquire(ctx context.Context, otn string, want store.Expect, p store.Payment, now time.Time, prefix string, ttl time.Duration) (*store.Order, bool, string, bool, error) {
	c.count("ReadSettleAndTryAcquire")
	return c.Store.ReadSettleAndTryAcquire(ctx, otn, want, p, now, prefix, ttl)
}

// jointOnly is a callCounter without store.ReadSettleLocker: its field
// hides the method the memstore has.
type jointOnly struct {
	*callCounter
	ReadSettleAndTryAcquire struct{}
}

func (c *callCounter) MarkFulfilledAndRelease(ctx context.Context, otn string, now time.Time, name, token string) error {
	c.count("MarkFulfilledAndRelease")
	return c.Store.MarkFulfilledAndRelease(ctx, otn, now, name, token)
}

// TestFreshSettlementJoinsLease: with a store that is its own Locker and
// a store.SettleLocker, a fresh settlement takes the fulfilment lease
// with the settlement and gives it up with the record (two durable steps,
// not four), and the hook runs once; with a store.ReadSettleLocker the
// attempt's read is the settlement too (one store call before the hook,
// no Get). With another Locker the store's joint calls are not used: that
// Locker takes the lease, and the store's own lease is taken separately
// as its fence. Plants killed: the Settler ignoring SettleLocker (four
// calls, not two); Notify ignoring ReadSettleLocker (a Get and
// SettleAndTryAcquire).
func TestFreshSettlementJoinsLease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		otherLocker bool
		noRead      bool
		want        map[string]int
	}{
		{"store is the locker", false, false, map[string]int{"ReadSettleAndTryAcquire": 1, "MarkFulfilledAndRelease": 1}},
		{"store is the locker, no read-settle", false, true, map[string]int{"Get": 1, "SettleAndTryAcquire": 1, "MarkFulfilledAndRelease": 1}},
		// The store's lease is then the fence (fence.go), taken and given
		// up on its own.
		{"another locker", true, false, map[string]int{"Get": 1, "Settle": 1, "MarkFulfilled": 1, "Acquire": 1, "Release": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memstore.New()
			cc := &callCounter{Store: mem, calls: map[string]int{}}
			cfg := handler.SettlerConfig{Store: cc, Locker: cc}
			if tc.otherLocker {
				cfg.Locker = memstore.New()
			}
			if tc.noRead {
				j := &jointOnly{callCounter: cc}
				cfg.Store, cfg.Locker = j, j
			}
			r := newSettleRig(t, mem, cfg)
			o := pendingOrder(t, mem, "JOINT0001", "JOINT000", 1)
			if got := r.deliver(t, o, "T1"); got != "success" {
				t.Fatalf("got reply %q, want success", got)
			}
			if n := r.hookCalls(o.OutTradeNo); n != 1 {
				t.Errorf("hook calls: got %d, want 1", n)
			}
			if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Paid || !got.Fulfilled {
				t.Errorf("order: got %s fulfilled %v, want PAID and fulfilled", got.Status, got.Fulfilled)
			}
			got := cc.got()
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s calls: got %d, want %d (all: %v)", k, got[k], v, got)
				}
			}
			for k, v := range got {
				if _, ok := tc.want[k]; !ok {
					t.Errorf("%s called %d times, want never (all: %v)", k, v, got)
				}
			}
			// The lease is free again.
			if tok, ok, err := mem.TryAcquire(context.Background(), "cypay:business:"+o.BusinessID, time.Minute); err != nil || !ok {
				t.Errorf("the business order's lease after the settlement: got held (%v), want free", err)
			} else {
				_ = mem.Release(context.Background(), "cypay:business:"+o.BusinessID, tok)
			}
		})
	}
}
