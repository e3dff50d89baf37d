package handler_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// TestStoreFailsOnSettle proves G4: while the store fails, the reply is
// fail and the order unchanged; the gateway's retry then settles it.
func TestStoreFailsOnSettle(t *testing.T) {
	t.Parallel()
	t.Run("direct", func(t *testing.T) {
		t.Parallel()
		fs := &failingStore{}
		e := newEnv(t, envOptions{wrap: func(m *memstore.Store) store.OrderStore { fs.OrderStore = m; return fs }})
		fs.settleFails.Store(1)
		o := e.CreatePending(t, "STOREFAIL1", mchA, model.V2, 700)
		v := signedNotification(t, o, keyA, nil)
		if got := e.PostNotify(t, v); got != "fail" {
			t.Errorf("while the store fails: got %q, want fail", got)
		}
		if diff := cmp.Diff(o, e.Get(t, o.OutTradeNo)); diff != "" {
			t.Errorf("order changed (-before +after):\n%s", diff)
		}
		if got := e.PostNotify(t, v); got != "success" {
			t.Errorf("retry: got %q, want success", got)
		}
		if o := e.Get(t, o.OutTradeNo); o.Status != store.Paid || !o.Fulfilled || o.TransactionID != v.Get("transaction_id") {
			t.Errorf("after retry: got %s fulfilled=%v, want PAID and fulfilled", o.Status, o.Fulfilled)
		}
		if n := e.Rec.Count(handler.StoreError); n != 1 {
			t.Errorf("store error events: got %d, want 1", n)
		}
	})
	t.Run("simulator retries", func(t *testing.T) {
		t.Parallel()
		fs := &failingStore{}
		e := newEnv(t, envOptions{wrap: func(m *memstore.Store) store.OrderStore { fs.OrderStore = m; return fs }})
		e.AddOrder("SFSIM1", mchA, 710)
		otn := e.MustPreOrder(t, model.V2, "SFSIM1", model.PayWeChat)
		fs.settleFails.Store(2)
		if err := e.Sim.Pay(otn); err != nil {
			t.Fatal(err)
		}
		e.WaitIdle(t)
		d := e.Sim.Deliveries(otn)
		var replies []string
		for _, x := range d {
			replies = append(replies, x.Reply)
		}
		if diff := cmp.Diff([]string{"fail", "fail", "success"}, replies); diff != "" {
			t.Errorf("delivery replies (-want +got):\n%s", diff)
		}
		if o := e.Get(t, otn); o.Status != store.Paid || !o.Fulfilled {
			t.Errorf("got %s fulfilled=%v, want PAID and fulfilled", o.Status, o.Fulfilled)
		}
		if n := e.Hooks.Calls(otn); n != 1 {
			t.Errorf("hook calls: got %d, want 1", n)
		}
	})
}

// TestHookFailsTwice proves G3: a failing hook makes the reply fail; the
// gateway retries; the hook runs three times in all and never again once
// it returned nil, whatever arrives later.
func TestHookFailsTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.Hooks.Decide(func(o store.Order, call int) error {
		if call <= 2 {
			return errors.New("warehouse unavailable")
		}
		return nil
	})
	e.AddOrder("HOOKFAIL1", mchA, 1200)
	otn := e.MustPreOrder(t, model.V2, "HOOKFAIL1", model.PayWeChat)
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(t)
	d := e.Sim.Deliveries(otn)
	var replies []string
	for _, x := range d {
		replies = append(replies, x.Reply)
	}
	if diff := cmp.Diff([]string{"fail", "fail", "success"}, replies); diff != "" {
		t.Errorf("delivery replies (-want +got):\n%s", diff)
	}
	if n := e.Hooks.Calls(otn); n != 3 {
		t.Errorf("hook calls: got %d, want 3", n)
	}
	o := e.Get(t, otn)
	if o.Status != store.Paid || !o.Fulfilled {
		t.Fatalf("got %s fulfilled=%v, want PAID and fulfilled", o.Status, o.Fulfilled)
	}
	if n := e.Rec.Count(handler.HookError); n != 2 {
		t.Errorf("hook error events: got %d, want 2", n)
	}
	// Late duplicates and a reconciler pass do not run it again.
	if got := e.PostNotify(t, mustParse(t, d[0].Body)); got != "success" {
		t.Errorf("late duplicate: got %q, want success", got)
	}
	e.Clock.Advance(time.Minute)
	if err := e.reconciler(t, model.V2).RunOnce(context.Background()); err != nil {
		t.Errorf("reconcile: %v", err)
	}
	if n := e.Hooks.Calls(otn); n != 3 {
		t.Errorf("hook calls after duplicates: got %d, want 3", n)
	}
}

// TestReconcilerRetriesHook proves G3's second half: when the gateway
// stops retrying, the reconciler runs a failed hook again.
func TestReconcilerRetriesHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.Hooks.Decide(func(o store.Order, call int) error {
		if call == 1 {
			return errors.New("once")
		}
		return nil
	})
	o := e.CreatePending(t, "HOOKRETRY1", mchA, model.V2, 100)
	if got := e.PostNotify(t, signedNotification(t, o, keyA, nil)); got != "fail" {
		t.Fatalf("got %q, want fail", got)
	}
	if o := e.Get(t, o.OutTradeNo); o.Status != store.Paid || o.Fulfilled {
		t.Fatalf("got %s fulfilled=%v, want PAID and not fulfilled", o.Status, o.Fulfilled)
	}
	r := e.reconciler(t, model.V2)
	for range 2 {
		if err := r.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if o := e.Get(t, o.OutTradeNo); !o.Fulfilled {
		t.Error("not fulfilled after the reconciler ran")
	}
	if n := e.Hooks.Calls(o.OutTradeNo); n != 2 {
		t.Errorf("hook calls: got %d, want 2", n)
	}
}

// TestHookPanics: a panicking hook answers fail, the server keeps serving,
// and the next delivery fulfils the order.
func TestHookPanics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.Hooks.Decide(func(o store.Order, call int) error {
		if call == 1 {
			panic("hook bug")
		}
		return nil
	})
	o := e.CreatePending(t, "HOOKPANIC1", mchA, model.V2, 100)
	v := signedNotification(t, o, keyA, nil)
	if got := e.PostNotify(t, v); got != "fail" {
		t.Errorf("panicking hook: got %q, want fail", got)
	}
	if got := e.PostNotify(t, v); got != "success" {
		t.Errorf("server after the panic: got %q, want success", got)
	}
	if o := e.Get(t, o.OutTradeNo); !o.Fulfilled {
		t.Error("not fulfilled")
	}
	if n := e.Rec.Count(handler.HookError); n != 1 {
		t.Errorf("hook error events: got %d, want 1", n)
	}
}

// blockingStore blocks Get, ignoring ctx, until released.
type blockingStore struct {
	store.OrderStore
	block   chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (s *blockingStore) Get(ctx context.Context, otn string) (*store.Order, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.block
	return s.OrderStore.Get(ctx, otn)
}

// TestSlowStore proves G5: a store slower than the deadline, even one that
// ignores ctx, gets a prompt fail, and the order stays consistent.
func TestSlowStore(t *testing.T) {
	t.Parallel()
	bs := &blockingStore{block: make(chan struct{}), entered: make(chan struct{})}
	e := newEnv(t, envOptions{deadline: time.Second,
		wrap: func(m *memstore.Store) store.OrderStore { bs.OrderStore = m; return bs }})
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(bs.block) }) })
	o := e.CreatePending(t, "SLOWSTORE1", mchA, model.V2, 100)
	v := signedNotification(t, o, keyA, nil)
	if got := e.postNotifyWithin(t, v, 30*time.Second); got != "fail" {
		t.Errorf("slow store: got %q, want fail", got)
	}
	waitFor(t, bs.entered, "the store call")
	if n := e.Rec.Count(handler.Timeout); n != 1 {
		t.Errorf("timeout events: got %d, want 1", n)
	}
	release.Do(func() { close(bs.block) })
	// The gateway retries; so does this test, for a loaded machine on
	// which one try may miss the short deadline.
	deadline := time.Now().Add(30 * time.Second)
	for got := e.postNotifyWithin(t, v, 30*time.Second); got != "success"; got = e.postNotifyWithin(t, v, 30*time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("after the store recovered: got %q, want success", got)
		}
	}
	if o := e.Get(t, o.OutTradeNo); o.Status != store.Paid || !o.Fulfilled {
		t.Errorf("got %s fulfilled=%v, want PAID and fulfilled", o.Status, o.Fulfilled)
	}
	if n := e.Hooks.Calls(o.OutTradeNo); n != 1 {
		t.Errorf("hook calls: got %d, want 1", n)
	}
}

// TestSlowHook proves G5 for a hook that outlives the deadline: the reply
// is fail; the hook's later success is still recorded, so it does not run
// again.
func TestSlowHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{deadline: time.Second})
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseHook := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseHook) // before the server's Close waits for the handler
	done := make(chan struct{})
	e.Hooks.Decide(func(o store.Order, call int) error {
		if call == 1 {
			<-release
			defer close(done)
		}
		return nil
	})
	o := e.CreatePending(t, "SLOWHOOK1", mchA, model.V2, 100)
	v := signedNotification(t, o, keyA, nil)
	if got := e.postNotifyWithin(t, v, 30*time.Second); got != "fail" {
		t.Errorf("slow hook: got %q, want fail", got)
	}
	releaseHook()
	waitFor(t, done, "the slow hook")
	// The retry waits for the lease the slow run still holds, then finds
	// the fulfilment recorded.
	deadline := time.Now().Add(30 * time.Second)
	for got := e.postNotifyWithin(t, v, 30*time.Second); got != "success"; got = e.postNotifyWithin(t, v, 30*time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("retry: got %q, want success", got)
		}
	}
	if n := e.Hooks.Calls(o.OutTradeNo); n != 1 {
		t.Errorf("hook calls: got %d, want 1", n)
	}
}

// TestNoNotification proves G7: a payment whose notification never comes
// is settled by the reconciler, on the 5 s schedule of a fake clock.
func TestNoNotification(t *testing.T) {
	t.Parallel()
	for _, f := range []gatewaytest.Faults{{NoNotify: true}, {DropNotify: true}, {WrongKey: true}, {TamperAmount: 1}} {
		t.Run(faultName(f), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{timeScale: 0.0001})
			id := "NONOTIFY" + faultName(f)
			e.AddOrder(id, mchA, 4200)
			otn := handler.OutTradeNo(id, 1)
			e.Sim.SetFaults(otn, f)
			// Created under v1, queried through the reconciler's v1 client.
			if got := e.MustPreOrder(t, model.V1, id, model.PayECNY); got != otn {
				t.Fatalf("out_trade_no: got %q, want %q", got, otn)
			}
			if err := e.Sim.Pay(otn); err != nil {
				t.Fatal(err)
			}
			// The retry schedule (about 3 h of the gateway's time) comes now, in
			// order, instead of over a second of TimeScale.
			if err := e.Sim.Advance(4 * time.Hour); err != nil {
				t.Fatal(err)
			}
			e.WaitIdle(t)
			if o := e.Get(t, otn); o.Status != store.Pending {
				t.Fatalf("before reconciling: got %s, want PENDING", o.Status)
			}
			r := e.reconciler(t, model.V2)
			e.Clock.Advance(2 * time.Second)
			if err := r.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if o := e.Get(t, otn); o.Status != store.Pending {
				t.Errorf("2 s after creation: got %s, want PENDING (first query after 5 s)", o.Status)
			}
			e.Clock.Advance(4 * time.Second)
			if err := r.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			o := e.Get(t, otn)
			sim, _ := e.Sim.Order(otn)
			if o.Status != store.Paid || !o.Fulfilled || o.TransactionID != sim.TransactionID {
				t.Errorf("after reconciling: got %s fulfilled=%v txn %q, want PAID, fulfilled, %q", o.Status, o.Fulfilled, o.TransactionID, sim.TransactionID)
			}
			if n := e.Hooks.Calls(otn); n != 1 {
				t.Errorf("hook calls: got %d, want 1", n)
			}
			if n := len(e.Rec.Alerts()); n != 0 {
				t.Errorf("alerts: got %d, want 0", n)
			}
		})
	}
}

func faultName(f gatewaytest.Faults) string {
	switch {
	case f.PreOrderNeedQuery:
		return "NeedQuery"
	case f.PreOrderStatus != 0:
		return "Status"
	case f.PreOrderDelay != 0:
		return "Delay"
	case f.NoNotify:
		return "NoNotify"
	case f.DropNotify:
		return "DropNotify"
	case f.WrongKey:
		return "WrongKey"
	case f.TamperAmount != 0:
		return "TamperAmount"
	case f.Duplicates != 0:
		return "Duplicates"
	}
	return "None"
}

// TestPreOrderUnknownOutcome proves G7 for pre-orders: NEED_QUERY, a 5xx
// and a timeout answer 202 with the attempt PENDING, and the reconciler
// settles the payment later.
func TestPreOrderUnknownOutcome(t *testing.T) {
	t.Parallel()
	for _, f := range []gatewaytest.Faults{
		{PreOrderNeedQuery: true, NoNotify: true},
		{PreOrderStatus: http.StatusBadGateway, NoNotify: true},
		{PreOrderDelay: time.Hour, NoNotify: true},
	} {
		t.Run(faultName(f), func(t *testing.T) {
			t.Parallel()
			// The simulator records the order before it delays the reply;
			// the client must not give up before its request has even
			// arrived on a loaded machine, hence seconds, not milliseconds.
			e := newEnv(t, envOptions{clientTimeout: 2 * time.Second})
			id := "UNKNOWN" + faultName(f)
			e.AddOrder(id, mchB, 990)
			otn := handler.OutTradeNo(id, 1)
			e.Sim.SetFaults(otn, f)
			r := e.PreOrder(t, model.V2, map[string]any{"order_id": id, "channel": "WECHAT"})
			if r.Status != http.StatusAccepted || r.OutTradeNo != otn || r.State != string(store.Pending) {
				t.Fatalf("pre-order: got %d %+v, want 202 PENDING %s", r.Status, r, otn)
			}
			if err := e.Sim.Pay(otn); err != nil {
				t.Fatal(err)
			}
			e.Clock.Advance(6 * time.Second)
			if err := e.reconciler(t, model.V2).RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if o := e.Get(t, otn); o.Status != store.Paid || !o.Fulfilled {
				t.Errorf("after reconciling: got %s fulfilled=%v, want PAID and fulfilled", o.Status, o.Fulfilled)
			}
		})
	}
}

// postNotifyWithin posts a notification like postNotify but gives up
// after limit, far beyond any configured deadline: a test of the deadline
// fails instead of hanging when the deadline does not cut the work off.
func (e *env) postNotifyWithin(t testing.TB, v url.Values, limit time.Duration) string {
	t.Helper()
	c := &http.Client{Timeout: limit}
	resp, err := c.PostForm(e.Server.URL+"/notify", v)
	if err != nil {
		t.Fatalf("no reply within %v: %v", limit, err)
	}
	defer resp.Body.Close()
	return readAll(t, resp)
}

// waitFor waits for ch to be closed, failing the test after 30 s.
func waitFor(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not happen within 30s", what)
	}
}
