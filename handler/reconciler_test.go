package handler_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// TestReconcilerCloses proves G7's end of life: unpaid attempts are closed
// when the gateway says so, when the gateway never saw them, and, recorded
// without an expiry (before stores kept one), at MaxAge (cancelled at the
// gateway inside its 5-minute window).
func TestReconcilerCloses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Now: e.Clock.Now,
		FastWindow: 60 * time.Second, MaxAge: 90 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.AddOrder("CLOSEDGW1", mchA, 10)
	e.AddOrder("EXPIRE1", mchA, 10)
	closedAtGateway := e.MustPreOrder(t, model.V2, "CLOSEDGW1", model.PayWeChat)
	expiring := e.legacyAttempt(t, "EXPIRE101")
	neverSent := e.CreatePending(t, "NEVERSENT1", mchA, model.V2, 10).OutTradeNo
	if _, err := e.Clients[model.V2].Cancel(ctx, &model.CancelRequest{PayType: model.PayWeChat, MchID: mchA, OutTradeNo: closedAtGateway}); err != nil {
		t.Fatal(err)
	}

	e.Clock.Advance(10 * time.Second)
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for otn, want := range map[string]store.Status{closedAtGateway: store.Closed, expiring: store.Pending, neverSent: store.Pending} {
		if got := e.Get(t, otn).Status; got != want {
			t.Errorf("%s after 10 s: got %s, want %s", otn, got, want)
		}
	}
	e.Clock.Advance(60 * time.Second) // past the fast window
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Get(t, neverSent).Status; got != store.Pending {
		t.Errorf("unknown at the gateway before MaxAge: got %s, want PENDING", got)
	}
	if got := e.Get(t, expiring).Status; got != store.Pending {
		t.Errorf("before MaxAge: got %s, want PENDING", got)
	}
	e.Clock.Advance(30 * time.Second) // past MaxAge, inside the cancel window
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, otn := range []string{expiring, neverSent} {
		if got := e.Get(t, otn).Status; got != store.Closed {
			t.Errorf("%s after MaxAge: got %s, want CLOSED", otn, got)
		}
	}
	if sim, _ := e.Sim.Order(expiring); sim.State == gatewaytest.Unpaid {
		t.Errorf("gateway state after expiry: got %s, want it cancelled", sim.State)
	}
	if err := e.Sim.Pay(expiring); err == nil {
		t.Error("the expired attempt can still be paid at the gateway")
	}
	if n := e.Rec.Count(handler.Closed); n != 3 {
		t.Errorf("closed events: got %d, want 3", n)
	}
}

// TestReconcilerLongTail: after the fast window an attempt is queried at
// the widening TailSteps, not every Interval; past MaxAge (outside the cancel window)
// it is closed here only.
func TestReconcilerLongTail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	var queries atomic.Int32
	c, err := client.New(client.Config{
		GatewayURL: e.Sim.URL, OpenURL: e.Sim.URL, Version: model.V2, Keys: handlertest.Keyring(),
		HTTPClient: &http.Client{Transport: countingTransport{&queries, nil, nil}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: e.Settler, Client: c, Logger: quietLogger(), Now: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.AddOrder("TAIL1", mchA, 10)
	otn := e.MustPreOrder(t, model.V2, "TAIL1", model.PayWeChat)
	step := func(d time.Duration) {
		e.Clock.Advance(d)
		if err := r.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 24 { // 0–120 s: every 5 s
		step(5 * time.Second)
	}
	fast := queries.Load()
	for range 12 { // one minute of the tail: at most one query
		step(5 * time.Second)
	}
	tail := queries.Load() - fast
	if fast < 20 || fast > 24 {
		t.Errorf("queries in the fast window: got %d, want about one per 5 s (20–24)", fast)
	}
	if tail > 1 {
		t.Errorf("queries in one tail minute: got %d, want at most 1", tail)
	}
	step(25 * time.Hour)
	if got := e.Get(t, otn).Status; got != store.Closed {
		t.Errorf("after MaxAge: got %s, want CLOSED", got)
	}
}

// countingTransport counts requests and the most in flight at once.
type countingTransport struct {
	n        *atomic.Int32
	inflight *atomic.Int32
	peak     *atomic.Int32
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	if c.inflight != nil {
		cur := c.inflight.Add(1)
		defer c.inflight.Add(-1)
		for {
			p := c.peak.Load()
			if cur <= p || c.peak.CompareAndSwap(p, cur) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond) // widen the window for overlap
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestReconcilersInParallel proves G2, G3 and G7 with several reconcilers
// at once: every payment settles once and fulfils once, and each keeps to
// its concurrency bound.
func TestReconcilersInParallel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	const orders = 40
	var otns []string
	for i := range orders {
		id := fmt.Sprintf("PAR%03d", i)
		e.AddOrder(id, mchA, int64(100+i))
		e.Sim.SetFaults(handler.OutTradeNo(id, 1), gatewaytest.Faults{NoNotify: true})
		otn := e.MustPreOrder(t, model.V2, id, model.PayWeChat)
		if i%4 != 0 {
			if err := e.Sim.Pay(otn); err != nil {
				t.Fatal(err)
			}
		}
		otns = append(otns, otn)
	}
	var n, inflight, peak atomic.Int32
	var rs []*handler.Reconciler
	for range 3 {
		c, err := client.New(client.Config{
			GatewayURL: e.Sim.URL, OpenURL: e.Sim.URL, Version: model.V2, Keys: handlertest.Keyring(),
			HTTPClient: &http.Client{Transport: countingTransport{&n, &inflight, &peak}},
		})
		if err != nil {
			t.Fatal(err)
		}
		r, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: e.Settler, Client: c, Logger: quietLogger(), Now: e.Clock.Now, Concurrency: 2})
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	e.Clock.Advance(6 * time.Second)
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.RunOnce(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i, otn := range otns {
		o := e.Get(t, otn)
		wantPaid := i%4 != 0
		if (o.Status == store.Paid) != wantPaid || (wantPaid && !o.Fulfilled) {
			t.Errorf("%s: got %s fulfilled=%v, want paid=%v", otn, o.Status, o.Fulfilled, wantPaid)
		}
		if want := map[bool]int{true: 1, false: 0}[wantPaid]; e.Hooks.Calls(otn) != want {
			t.Errorf("%s: hook calls %d, want %d", otn, e.Hooks.Calls(otn), want)
		}
	}
	if p := peak.Load(); p > 3*2 {
		t.Errorf("peak queries in flight: got %d, want at most 6 (3 reconcilers × 2)", p)
	}
	if n := e.Hooks.Overlaps(); n != 0 {
		t.Errorf("hook overlaps: got %d, want 0", n)
	}
}

// TestReconcilerRunStops: Run returns when its context ends.
func TestReconcilerRunStops(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: got %v, want nil", err)
	}
}

func TestNewReconcilerValidates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for name, cfg := range map[string]handler.ReconcilerConfig{
		"no settler":        {Client: e.Clients[model.V2]},
		"no client":         {Settler: e.Settler},
		"fast window short": {Settler: e.Settler, Client: e.Clients[model.V2], FastWindow: 30 * time.Second},
		"fast window long":  {Settler: e.Settler, Client: e.Clients[model.V2], FastWindow: 200 * time.Second},
		"negative batch":    {Settler: e.Settler, Client: e.Clients[model.V2], Batch: -1},
	} {
		if _, err := handler.NewReconciler(cfg); err == nil {
			t.Errorf("%s: got nil error", name)
		}
	}
}

// TestReconcilerQueriesWithTheOrdersVersion: an attempt is queried only
// through a client of the version (and so the key) it was created under.
func TestReconcilerQueriesWithTheOrdersVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	e.AddOrder("VERSION1", mchB, 77)
	otn := handler.OutTradeNo("VERSION1", 1)
	e.Sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	e.MustPreOrder(t, model.V1, "VERSION1", model.PayWeChat)
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(6 * time.Second)
	v2only, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Now: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := v2only.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Get(t, otn).Status; got != store.Pending {
		t.Errorf("v1 attempt after a v2-only reconciler: got %s, want PENDING", got)
	}
	e.Clock.Advance(5 * time.Second) // the attempt's next query
	both, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: e.Settler, Client: e.Clients[model.V2],
		Clients: []*client.Client{e.Clients[model.V1]}, Logger: quietLogger(), Now: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := both.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Get(t, otn).Status; got != store.Paid {
		t.Errorf("v1 attempt after a reconciler with a v1 client: got %s, want PAID", got)
	}
}

// TestReconcilerRefundedBeforeSettled: a query that finds an attempt paid
// and refunded before it was settled here closes it and raises an alert;
// the hook never runs for money that went back.
func TestReconcilerRefundedBeforeSettled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	e.AddOrder("REFUNDED1", mchA, 600)
	otn := handler.OutTradeNo("REFUNDED1", 1)
	e.Sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	e.MustPreOrder(t, model.V2, "REFUNDED1", model.PayAlipay)
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Clients[model.V2].Refund(ctx, &model.RefundRequest{PayType: model.PayAlipay, MchID: mchA,
		OutTradeNo: otn, OutRefundNo: "R" + otn, TotalFee: 600, RefundFee: 600}); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(6 * time.Second)
	if err := e.reconciler(t, model.V2).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Get(t, otn).Status; got != store.Closed {
		t.Errorf("status: got %s, want CLOSED", got)
	}
	if a := e.Rec.Alerts(); len(a) != 1 || a[0].Kind != handler.AlertRefundedUnsettled || a[0].Source != handler.SourceQuery {
		t.Errorf("alerts: got %+v, want one %s from a query", a, handler.AlertRefundedUnsettled)
	}
	if n := e.Hooks.Calls(otn); n != 0 {
		t.Errorf("hook calls: got %d, want 0", n)
	}
}

// TestReconcilerAmountMismatch proves G1 on the query path: a paid query
// whose amount due differs from the stored order's is not settled, and
// alerts.
func TestReconcilerAmountMismatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	const otn = "QMISMATCH01"
	// The gateway was asked for 600 fen; the record here says 601.
	if _, err := e.Clients[model.V2].PreOrder(ctx, &model.PreOrderRequest{Channel: model.PayWeChat, MchID: mchA,
		Body: "x", OutTradeNo: otn, TotalFee: 600, TradeType: model.TradeTypeNative, ProductID: otn,
		NotifyURL: e.Server.URL + "/notify"}); err != nil {
		t.Fatal(err)
	}
	o := e.CreatePending(t, otn, mchA, model.V2, 601)
	e.Sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(6 * time.Second)
	if err := e.reconciler(t, model.V2).RunOnce(ctx); err == nil {
		t.Error("RunOnce: got nil, want the mismatch reported")
	}
	if diff := cmp.Diff(o, e.Get(t, otn), cmpopts.IgnoreFields(store.Order{}, "NextDue")); diff != "" {
		t.Errorf("order changed (-before +after):\n%s", diff)
	}
	a := e.Rec.Alerts()
	if len(a) != 1 || a[0].Kind != handler.AlertAmountMismatch || a[0].Source != handler.SourceQuery || a[0].GotAmount != 600 || a[0].WantAmount != 601 {
		t.Errorf("alerts: got %+v, want one amount mismatch 601/600 from a query", a)
	}
}

// TestReconcilerKeepsUnknownOpen: past MaxAge, an attempt whose query
// fails (here the gateway is unreachable) stays PENDING and the pass
// reports the error: closing an attempt whose outcome is unknown could
// close one the buyer paid.
func TestReconcilerKeepsUnknownOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	c, err := client.New(client.Config{GatewayURL: deadURL, OpenURL: deadURL, Keys: handlertest.Keyring(),
		HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: c, Logger: quietLogger(), Now: e.Clock.Now,
		FastWindow: 60 * time.Second, MaxAge: 90 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	otn := e.CreatePending(t, "UNKNOWN1", mchA, model.V2, 10).OutTradeNo
	e.Clock.Advance(10 * time.Minute) // far past MaxAge and the cancel window
	if err := r.RunOnce(ctx); !errors.Is(err, client.ErrUnknownOutcome) {
		t.Errorf("RunOnce with the gateway unreachable: got %v, want an error wrapping client.ErrUnknownOutcome", err)
	}
	if got := e.Get(t, otn).Status; got != store.Pending {
		t.Errorf("status after a failed query past MaxAge: got %s, want PENDING", got)
	}
	if n := e.Rec.Count(handler.Closed); n != 0 {
		t.Errorf("closed events: got %d, want 0", n)
	}
}
