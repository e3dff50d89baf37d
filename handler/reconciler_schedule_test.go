package handler_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// gatewayLog is a transport that records the out_trade_no of every call
// to the gateway, in order. If hold is set, a call for which it returns
// true waits until its request's context ends (and fails), after
// announcing itself on held.
type gatewayLog struct {
	mu   sync.Mutex
	otns []string
	hold func(otn string) bool
	held chan string
}

func (g *gatewayLog) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	otn := form.Get("out_trade_no")
	g.mu.Lock()
	g.otns = append(g.otns, otn)
	g.mu.Unlock()
	if g.hold != nil && g.hold(otn) {
		g.held <- otn
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return gatewayTransport.RoundTrip(r)
}

// gatewayTransport is http.DefaultTransport keeping enough idle
// connections per simulator for a reconciler's concurrent queries: with
// the default two, most of a pass's queries dialled a new connection and
// closed it after one call.
var gatewayTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}()

func (g *gatewayLog) calls() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.otns...)
}

// count returns how many calls were for each out_trade_no.
func (g *gatewayLog) count() map[string]int {
	n := map[string]int{}
	for _, otn := range g.calls() {
		n[otn]++
	}
	return n
}

// loggedClient is a v2 client on e's simulator whose calls go through g.
func (e *env) loggedClient(t testing.TB, g *gatewayLog) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{
		GatewayURL: e.Sim.URL, OpenURL: e.Sim.URL, Version: model.V2, Keys: handlertest.Keyring(),
		HTTPClient: &http.Client{Transport: g, Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// backlog records n PENDING attempts created long ago and overdue, as
// abandoned QR codes pile up; the gateway has never heard of them.
func (e *env) backlog(t testing.TB, n int, age time.Duration) []string {
	t.Helper()
	now := e.Clock.Now()
	otns := make([]string, n)
	for i := range otns {
		o := &store.Order{
			OutTradeNo: fmt.Sprintf("OLD%06d", i), BusinessID: fmt.Sprintf("OLDB%06d", i), Attempt: 1, MchID: mchA,
			Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2, Amount: 100,
			Status: store.Pending, CreatedAt: now.Add(-age), UpdatedAt: now.Add(-age),
			NextDue: now.Add(-age / 2),
		}
		if err := e.Mem.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		otns[i] = o.OutTradeNo
	}
	return otns
}

// TestReconcilerFreshBehindBacklog proves G12's first half: behind 1,500
// older PENDING attempts, all overdue, a fresh attempt that was paid and
// whose notification was lost is settled by the first pass it is due in.
// (Listing the oldest attempts first, the kit never reached it.)
func TestReconcilerFreshBehindBacklog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	e.backlog(t, 1500, 2*time.Hour)
	e.AddOrder("FRESH1", mchA, 990)
	otn := handler.OutTradeNo("FRESH1", 1)
	e.Sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	e.MustPreOrder(t, model.V2, "FRESH1", model.PayWeChat)
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	g := &gatewayLog{}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.loggedClient(t, g), Logger: quietLogger(), Now: e.Clock.Now, Batch: 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(5 * time.Second) // the attempt's first query is due
	_ = r.RunOnce(ctx)               // the backlog's queries fail: unknown at the gateway
	if o := e.Get(t, otn); o.Status != store.Paid || !o.Fulfilled {
		t.Fatalf("fresh paid attempt after one pass: got %s fulfilled=%v, want PAID and fulfilled", o.Status, o.Fulfilled)
	}
	if calls := g.calls(); len(calls) == 0 || calls[0] != otn {
		t.Errorf("first gateway call of the pass: got %v, want %s", calls[:min(len(calls), 1)], otn)
	}
	if n := len(g.calls()); n > 40 {
		t.Errorf("gateway calls in one pass: got %d, want at most Batch (40)", n)
	}
}

// TestReconcilerInstancesShareWork proves G12's second half: 2 and 4
// reconcilers on one store, each with its own client, make together at
// most 1.1× the gateway queries of one over 100 fresh unpaid attempts in
// their 120 s fast window.
func TestReconcilerInstancesShareWork(t *testing.T) {
	t.Parallel()
	one := sharedWindowQueries(t, 1)
	if want := 100 * 24; one != want {
		t.Errorf("one instance: got %d queries, want %d (100 attempts × 24 in the fast window)", one, want)
	}
	for _, n := range []int{2, 4} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			got := sharedWindowQueries(t, n)
			if float64(got) > 1.1*float64(one) {
				t.Errorf("%d instances: got %d queries, want at most 1.1 × %d", n, got, one)
			}
			t.Logf("%d instances: %d queries, %.2f× one instance", n, got, float64(got)/float64(one))
		})
	}
}

// sharedWindowQueries runs n reconcilers side by side, a pass each per
// simulated second, over 100 fresh unpaid attempts for 120 s, and returns
// the gateway queries they made.
func sharedWindowQueries(t *testing.T, n int) int {
	e := newEnv(t, envOptions{})
	for i := range 100 {
		id := fmt.Sprintf("SHARE%03d", i)
		e.AddOrder(id, mchA, 100)
		e.MustPreOrder(t, model.V2, id, model.PayWeChat)
	}
	g := &gatewayLog{}
	rs := make([]*handler.Reconciler, n)
	for i := range rs {
		r, err := handler.NewReconciler(handler.ReconcilerConfig{
			Settler: e.Settler, Client: e.loggedClient(t, g), Logger: quietLogger(), Now: e.Clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		rs[i] = r
	}
	for range 120 {
		e.Clock.Advance(time.Second)
		var wg sync.WaitGroup
		for _, r := range rs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.RunOnce(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	return len(g.calls())
}

// deadScheduler is the view of a store from an instance that has died:
// once dead, it can no longer write its claims back.
type deadScheduler struct {
	store.Scheduler
	dead atomic.Bool
}

var errDead = errors.New("instance is dead")

func (d *deadScheduler) Reschedule(ctx context.Context, c store.Claim, next time.Time) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Scheduler.Reschedule(ctx, c, next)
}

// TestReconcilerTakesOverDeadInstance: an instance stopped in the middle of
// a pass, unable to hand its claims back, holds them until ClaimTTL; then
// another instance checks them.
func TestReconcilerTakesOverDeadInstance(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	var otns []string
	for i := range 8 {
		id := fmt.Sprintf("DEAD%03d", i)
		e.AddOrder(id, mchA, 100)
		otns = append(otns, e.MustPreOrder(t, model.V2, id, model.PayWeChat))
	}
	gA := &gatewayLog{hold: func(string) bool { return true }, held: make(chan string, 8)}
	dying := &deadScheduler{Scheduler: e.Mem}
	const claimTTL = 2 * time.Minute
	a, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.loggedClient(t, gA), Scheduler: dying, Logger: quietLogger(), Now: e.Clock.Now,
		Concurrency: 3, ClaimTTL: claimTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	gB := &gatewayLog{}
	b, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.loggedClient(t, gB), Logger: quietLogger(), Now: e.Clock.Now, ClaimTTL: claimTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(5 * time.Second)
	ctxA, kill := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.RunOnce(ctxA) }()
	claimed := map[string]bool{}
	for range 3 {
		select {
		case otn := <-gA.held:
			claimed[otn] = true
		case <-time.After(30 * time.Second):
			t.Fatal("instance A never queried its claims")
		}
	}
	dying.dead.Store(true)
	kill()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("instance A's pass did not end when cancelled")
	}

	if err := b.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for otn, n := range gB.count() {
		if claimed[otn] {
			t.Errorf("%s: queried by B %d times while A's claim held, want 0", otn, n)
		}
	}
	if got, want := len(gB.calls()), len(otns)-len(claimed); got != want {
		t.Errorf("B's queries during A's claim: got %d, want %d (the attempts A did not hold)", got, want)
	}
	e.Clock.Advance(claimTTL)
	if err := b.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := gB.count()
	for otn := range claimed {
		if after[otn] != 1 {
			t.Errorf("%s after A's claim expired: B queried it %d times, want 1", otn, after[otn])
		}
	}
}

// budget is a Limiter that lets n calls through, then refuses as
// rate.Limiter does when a wait would outlast the deadline.
type budget struct {
	mu   sync.Mutex
	left int
	used int
}

func (b *budget) Wait(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left == 0 {
		return errors.New("budget: would exceed the deadline")
	}
	b.left--
	b.used++
	return nil
}

func (b *budget) refill(n int) {
	b.mu.Lock()
	b.left = n
	b.mu.Unlock()
}

// TestReconcilerRateLimit: under a backlog, the gateway sees no more calls
// than the limiter allows, the fresh attempts in their fast window get the
// allowance first, and what the limiter refused stays due for the next
// pass. A per-merchant limiter is honoured too.
func TestReconcilerRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	old := e.backlog(t, 200, time.Hour)
	var fresh []string
	for i := range 3 {
		id := fmt.Sprintf("RATE%03d", i)
		e.AddOrder(id, mchA, 100)
		fresh = append(fresh, e.MustPreOrder(t, model.V2, id, model.PayWeChat))
	}
	g := &gatewayLog{}
	lim := &budget{}
	perMch := map[string]*budget{mchA: {}}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.loggedClient(t, g), Logger: quietLogger(), Now: e.Clock.Now,
		Limiter:         lim,
		MerchantLimiter: func(mch string) handler.Limiter { return perMch[mch] },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(5 * time.Second)
	lim.refill(3)
	perMch[mchA].refill(100)
	_ = r.RunOnce(ctx)
	if got := g.count(); len(g.calls()) != 3 || got[fresh[0]] != 1 || got[fresh[1]] != 1 || got[fresh[2]] != 1 {
		t.Errorf("gateway calls with 3 allowed: got %v, want the 3 fresh attempts once each", g.calls())
	}

	lim.refill(50)
	_ = r.RunOnce(ctx)
	if n := len(g.calls()); n != 3+50 {
		t.Errorf("gateway calls after 50 more allowed: got %d, want 53", n)
	}
	lim.refill(1000)
	perMch[mchA].refill(10)
	_ = r.RunOnce(ctx)
	if n := len(g.calls()); n != 53+10 {
		t.Errorf("gateway calls with the merchant's limiter at 10: got %d, want 63", n)
	}
	lim.refill(1000)
	perMch[mchA].refill(1000)
	_ = r.RunOnce(ctx)
	calls := g.count()
	for _, otn := range old {
		if calls[otn] != 1 {
			t.Errorf("%s: queried %d times over the passes, want once (refused work stays due)", otn, calls[otn])
		}
	}
	if lim.used < len(g.calls()) {
		t.Errorf("gateway calls %d exceed the limiter's grants %d", len(g.calls()), lim.used)
	}
}

// bareScheduler hands out claims without their attempts, as a Scheduler
// for other kinds of work might.
type bareScheduler struct{ store.Scheduler }

func (b bareScheduler) Claim(ctx context.Context, r store.ClaimRequest) ([]store.Claim, error) {
	cs, err := b.Scheduler.Claim(ctx, r)
	for i := range cs {
		cs[i].Order = nil
	}
	return cs, err
}

// TestReconcilerReadsBareClaims: a claim that comes without its attempt is
// read from the store, and settled all the same.
func TestReconcilerReadsBareClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("BARE1", mchA, 300)
	otn := handler.OutTradeNo("BARE1", 1)
	e.Sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	e.MustPreOrder(t, model.V2, "BARE1", model.PayWeChat)
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Scheduler: bareScheduler{e.Mem}, Logger: quietLogger(), Now: e.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(5 * time.Second)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.Get(t, otn).Status; got != store.Paid {
		t.Errorf("status: got %s, want PAID", got)
	}
}
