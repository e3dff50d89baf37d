package handler_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
	"github.com/google/go-cmp/cmp"
)

// foldRun is what one notification did on one Settler: its reply, its
// events, its alerts, the hook's runs, and the attempts afterwards.
type foldRun struct {
	Status  int
	Reply   string
	Events  []string
	Alerts  []handler.Alert
	Hooks   int32
	Orders  []store.Order
	Calls   map[string]int
	LeaseOK bool
}

// TestNotifyReadSettleSameOutcomes: a paid notification handled through a
// store.ReadSettleLocker (the attempt read and settled in one step) has
// exactly the outcome it has through the separate Get and
// SettleAndTryAcquire, and through a Locker apart from the store: the
// same reply and status, the same events (outcome and error), the same
// alerts with every field, the same hook runs, and the same attempts
// afterwards; a notification that must not settle (another merchant,
// another amount, another version's key, an attempt not PENDING) changes
// nothing. Only the store calls differ: the read-settle path makes no Get
// and no SettleAndTryAcquire where it settled. Plants killed: the memstore
// read-settle ignoring the amount, the merchant or the version (the
// attempt is settled and the hook runs where the others alert or refuse).
func TestNotifyReadSettleSameOutcomes(t *testing.T) {
	t.Parallel()
	type setup func(t *testing.T, mem *memstore.Store, o *store.Order)
	pay := func(txn string, fulfilled bool) setup {
		return func(t *testing.T, mem *memstore.Store, o *store.Order) {
			now, paidAt := time.Now(), time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
			if _, err := mem.Settle(context.Background(), o.OutTradeNo, store.Payment{TransactionID: txn, PaidAt: paidAt}, now); err != nil {
				t.Fatal(err)
			}
			if fulfilled {
				if err := mem.MarkFulfilled(context.Background(), o.OutTradeNo, now); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	finish := func(st store.Status) setup {
		return func(t *testing.T, mem *memstore.Store, o *store.Order) {
			if err := mem.Finish(context.Background(), o.OutTradeNo, st, "test", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	// siblingFulfilled pays and fulfils another attempt of o's business
	// order first: o's payment is then a double payment.
	siblingFulfilled := func(t *testing.T, mem *memstore.Store, o *store.Order) {
		sib := pendingOrder(t, mem, o.OutTradeNo[:len(o.OutTradeNo)-1]+"9", o.BusinessID, 9)
		pay("TSIB", true)(t, mem, sib)
	}
	v1 := func(o *store.Order) { o.Version = model.V1 }
	for _, tc := range []struct {
		name    string
		version func(o *store.Order)
		before  []setup
		key     func(o *store.Order) string // nil: keyFor
		mutate  func(p *gatewaytest.Payment)
		unknown bool
		settles bool // the read-settle path settles in its one call
	}{
		{name: "fresh", settles: true},
		{name: "fresh v1", version: v1, settles: true},
		{name: "another amount", mutate: func(p *gatewaytest.Payment) { p.TotalFee++ }},
		{name: "a smaller amount", mutate: func(p *gatewaytest.Payment) { p.TotalFee-- }},
		{name: "another merchant, its own key", key: func(*store.Order) string { return keyB },
			mutate: func(p *gatewaytest.Payment) { p.MchID = mchB }},
		{name: "v1, another merchant, the agent key", version: v1,
			mutate: func(p *gatewaytest.Payment) { p.MchID = mchB }},
		{name: "v2 order, the agent key", key: func(*store.Order) string { return agentKey }},
		{name: "v1 order, the merchant's key", version: v1, key: func(*store.Order) string { return keyA }},
		{name: "paid by it, fulfilled", before: []setup{pay("TFOLD", true)}},
		{name: "paid by it, unfulfilled", before: []setup{pay("TFOLD", false)}},
		{name: "paid by another", before: []setup{pay("TOTHER", false)}},
		{name: "failed", before: []setup{finish(store.Failed)}},
		{name: "closed", before: []setup{finish(store.Closed)}},
		{name: "a sibling fulfilled", before: []setup{siblingFulfilled}, settles: true},
		{name: "unknown", unknown: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body url.Values
			run := func(path string) foldRun {
				mem := memstore.New()
				cc := &callCounter{Store: mem, calls: map[string]int{}}
				cfg := handler.SettlerConfig{Store: cc, Locker: cc}
				switch path {
				case "joint":
					j := &jointOnly{callCounter: cc}
					cfg.Store, cfg.Locker = j, j
				case "another locker":
					cfg.Locker = memstore.New()
				}
				events := &handlertest.Recorder{}
				cfg.Observe = events.Observe
				r := newSettleRig(t, mem, cfg)
				now := time.Now()
				o := &store.Order{OutTradeNo: "FOLD00011", BusinessID: "FOLD0001", Attempt: 1, MchID: mchA,
					Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2, Amount: 990,
					Status: store.Pending, CreatedAt: now, UpdatedAt: now}
				if tc.version != nil {
					tc.version(o)
				}
				if !tc.unknown {
					if err := mem.Create(context.Background(), o); err != nil {
						t.Fatal(err)
					}
				}
				for _, b := range tc.before {
					b(t, mem, o)
				}
				if body == nil {
					key := keyFor(o)
					if tc.key != nil {
						key = tc.key(o)
					}
					body = signedNotification(t, o, key, func(p *gatewaytest.Payment) {
						p.TransactionID, p.OutTransactionID = "TFOLD", "CFOLD"
						p.TimeEnd = time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
						if tc.mutate != nil {
							tc.mutate(p)
						}
					})
				}
				cc.calls = map[string]int{}
				w := httptestRecorder(r.notify, "POST", "/notify", formType, body.Encode())
				out := foldRun{Status: w.Code, Reply: w.Body.String(), Alerts: r.rec.Alerts(), Hooks: r.hookCalls(o.OutTradeNo), Calls: cc.got()}
				for _, e := range events.Events() {
					out.Events = append(out.Events, fmt.Sprintf("%s %s %s %v", e.Source, e.Outcome, e.OutTradeNo, e.Err))
				}
				attempts, err := mem.ListByBusinessID(context.Background(), o.BusinessID)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range attempts {
					a.CreatedAt, a.UpdatedAt, a.FulfilledAt = time.Time{}, time.Time{}, time.Time{}
					out.Orders = append(out.Orders, *a)
				}
				tok, ok, err := mem.TryAcquire(context.Background(), "cypay:business:"+o.BusinessID, time.Minute)
				out.LeaseOK = err == nil && ok
				if ok {
					_ = mem.Release(context.Background(), "cypay:business:"+o.BusinessID, tok)
				}
				return out
			}
			fold := run("read-settle")
			ignoreCalls := cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Calls" }, cmp.Ignore())
			for _, other := range []string{"joint", "another locker"} {
				got := run(other)
				if diff := cmp.Diff(got, fold, ignoreCalls); diff != "" {
					t.Errorf("read-settle against %s (-%s +read-settle):\n%s", other, other, diff)
				}
			}
			if !fold.LeaseOK {
				t.Errorf("the business order's lease after the notification: held, want free")
			}
			calls := fold.Calls
			if tc.settles && (calls["ReadSettleAndTryAcquire"] != 1 || calls["Get"] != 0 || calls["SettleAndTryAcquire"] != 0) {
				t.Errorf("read-settle store calls: %v, want one ReadSettleAndTryAcquire and no Get or SettleAndTryAcquire", calls)
			}
			if !tc.settles && calls["SettleAndTryAcquire"] != 0 {
				t.Errorf("read-settle store calls: %v, want no SettleAndTryAcquire after a read that did not settle", calls)
			}
		})
	}
}
