package memstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
	"github.com/cypaykit/kit/storetest"
)

func TestConformance(t *testing.T) {
	// snippet:begin conformance
	storetest.RunConformanceTests(t, func(t *testing.T) storetest.Harness {
		s := memstore.New() // yours: a new, empty store; close it with t.Cleanup
		// A nil field skips that group of tests.
		return storetest.Harness{Store: s, Locker: s, Refunds: s}
	})
	// snippet:end conformance
}

func benchOrder(key string, now time.Time) *store.Order {
	return &store.Order{
		OutTradeNo: key,
		BusinessID: key,
		Attempt:    1,
		MchID:      "755437000006",
		Channel:    model.PayWeChat,
		TradeType:  "NATIVE",
		Version:    model.V2,
		Amount:     1999,
		Status:     store.Pending,
		CreatedAt:  now,
		UpdatedAt:  now,
	}
}

// BenchmarkSettleParallel creates and settles a distinct order per
// iteration. "baseline" does the same map insert and guarded update with a
// bare mutex and map, so the ratio is what memstore's contract costs.
func BenchmarkSettleParallel(b *testing.B) {
	now := time.Now()
	p := store.Payment{TransactionID: "T1", ChannelTransactionID: "C1", PaidAt: now}

	b.Run("baseline", func(b *testing.B) {
		var mu sync.Mutex
		m := map[string]*store.Order{}
		var seq atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := "B" + strconv.FormatInt(seq.Add(1), 10)
				o := *benchOrder(key, now)
				mu.Lock()
				m[key] = &o
				mu.Unlock()
				mu.Lock()
				if cur := m[key]; cur.Status == store.Pending {
					cur.Status = store.Paid
					cur.TransactionID, cur.ChannelTransactionID, cur.PaidAt = p.TransactionID, p.ChannelTransactionID, p.PaidAt
					cur.UpdatedAt = now
				}
				mu.Unlock()
			}
		})
	})

	b.Run("memstore", func(b *testing.B) {
		s := memstore.New()
		ctx := context.Background()
		var seq atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := "B" + strconv.FormatInt(seq.Add(1), 10)
				if err := s.Create(ctx, benchOrder(key, now)); err != nil {
					panic(fmt.Sprintf("Create: %v", err))
				}
				if ok, err := s.Settle(ctx, key, p, now); !ok || err != nil {
					panic(fmt.Sprintf("Settle: got (%v, %v), want (true, nil)", ok, err))
				}
			}
		})
	})
}
