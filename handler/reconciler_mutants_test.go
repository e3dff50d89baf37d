package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// The tests of this file kill mutants of reconciler.go,
// reconciler_close.go, close.go and status.go that the gremlins run of
// issue 16 §3 found alive (BENCHMARKS.md, "Mutation testing"): each
// names the mutant it kills.

// TestCloseAtTheCancelWindowAbandons: five minutes after its creation an
// attempt is past the kit's cancel window (the gateway's five minutes,
// which it may count a little differently): Close sends no cancel, and
// the attempt is abandoned, not closed. Kills reconciler_close.go
// inCancelWindow '<' → '<=' (the simulator still accepts a cancel at
// exactly five minutes, so that mutant closes it).
func TestCloseAtTheCancelWindowAbandons(t *testing.T) {
	t.Parallel()
	e, r := closeEnv(t, envOptions{})
	e.AddOrder("CLOSEEDGE1", mchA, 300)
	otn := e.MustPreOrder(t, model.V2, "CLOSEEDGE1", model.PayWeChat)
	e.Clock.Advance(5 * time.Minute)
	res := mustClose(t, r, otn, handler.CloseAbandoned)
	if res.Status != string(store.Pending) {
		t.Errorf("result: got %+v, want PENDING", res)
	}
	if st := simState(t, e, otn); st != gatewaytest.Unpaid {
		t.Errorf("gateway: got %s, want UNPAID (no cancel at the window's end)", st)
	}
}

// TestReconcilerExpiryAtTheCancelWindowSendsNoCancel: an attempt recorded
// without an expiry whose MaxAge ends exactly five minutes after its
// creation is past the cancel window: it is recorded CLOSED here and no
// cancel reaches the gateway. Kills reconciler.go expire '<' → '<='.
func TestReconcilerExpiryAtTheCancelWindowSendsNoCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{simClock: true})
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Now: e.Clock.Now,
		FastWindow: 60 * time.Second, MaxAge: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	otn := e.legacyAttempt(t, "EXPEDGE01")
	e.Clock.Advance(5 * time.Minute)
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Get(t, otn).Status; got != store.Closed {
		t.Errorf("at MaxAge: got %s, want CLOSED", got)
	}
	if st := simState(t, e, otn); st != gatewaytest.Unpaid {
		t.Errorf("gateway: got %s, want UNPAID (no cancel at the window's end)", st)
	}
}

// TestCloseQueryFailsAfterCancelPaidInStore: the cancel is answered with
// a verified reply while the payment's notification settles the attempt,
// and the query that follows gets an unsigned reply. The store's PAID
// and the verified cancel say the cancel reversed the payment: the
// attempt is REVERSED and never fulfilled. Kills reconciler_close.go:185
// 'gerr != nil' → 'gerr == nil' and 'cur.Status != store.Paid' →
// '== store.Paid' (both leave the reversed payment PAID).
func TestCloseQueryFailsAfterCancelPaidInStore(t *testing.T) {
	t.Parallel()
	sig := &settleSignal{settled: make(chan string, 4)}
	e, r := closeEnv(t, envOptions{wrap: func(m *memstore.Store) store.OrderStore {
		sig.Store = m
		return sig
	}})
	e.AddOrder("CLOSEQF1", mchA, 300)
	otn := e.MustPreOrder(t, model.V2, "CLOSEQF1", model.PayWeChat)
	e.Sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	note := paidNotification(t, e, otn)
	reply := make(chan string, 1)
	e.OnPath.RewriteEach(client.OpCancel, func(url.Values, map[string]string) {
		go func() { reply <- e.PostNotify(t, note) }()
		select {
		case <-sig.settled:
		case <-time.After(30 * time.Second):
			t.Error("the notification did not settle within 30s")
		}
	})
	e.OnPath.Rewrite(client.OpOrderQuery, gatewaytest.StripSign())
	mustClose(t, r, otn, handler.CloseReversed)
	select {
	case <-reply:
	case <-time.After(30 * time.Second):
		t.Fatal("the notification got no reply within 30s")
	}
	if e.OnPath.Rewritten(client.OpOrderQuery) != 1 {
		t.Fatalf("query replies stripped: got %d, want 1", e.OnPath.Rewritten(client.OpOrderQuery))
	}
	if o := e.Get(t, otn); o.Status != store.Reversed {
		t.Errorf("attempt: got %s, want REVERSED", o.Status)
	}
	if got := e.Hooks.Calls(otn); got != 0 {
		t.Errorf("hook calls: got %d, want 0", got)
	}
}

// TestCloseQueryFailsAfterCancelUnpaid: the cancel of an unpaid attempt
// is answered with a verified reply and the query that follows with an
// unsigned one. Nothing says a payment went back: the attempt stays
// PENDING and abandoned (the reconciler's next query closes it), never
// REVERSED. Kills reconciler_close.go:185 'cur.Status != store.Paid' →
// '== store.Paid'.
func TestCloseQueryFailsAfterCancelUnpaid(t *testing.T) {
	t.Parallel()
	e, r := closeEnv(t, envOptions{})
	e.AddOrder("CLOSEQF2", mchA, 300)
	otn := e.MustPreOrder(t, model.V2, "CLOSEQF2", model.PayWeChat)
	e.OnPath.Rewrite(client.OpOrderQuery, gatewaytest.StripSign())
	res := mustClose(t, r, otn, handler.CloseAbandoned)
	if res.Status != string(store.Pending) {
		t.Errorf("result: got %+v, want PENDING", res)
	}
	if st := simState(t, e, otn); st != gatewaytest.Closed {
		t.Errorf("gateway: got %s, want CLOSED (the cancel went through)", st)
	}
	e.OnPath.Clear()
	e.Clock.Advance(10 * time.Second)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o := e.Get(t, otn); o.Status != store.Closed {
		t.Errorf("after the reconciler's query: got %s, want CLOSED", o.Status)
	}
}

// TestCloseRouteLogsToItsLogger: a close whose store read fails answers
// 503 and says why in the Logger it was given. Kills close.go's
// 'c.log == nil' → 'c.log != nil' (the given logger replaced by the
// default one).
func TestCloseRouteLogsToItsLogger(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	st := brokenReads{memstore.New()}
	settler, err := handler.NewSettler(handler.SettlerConfig{Store: st, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: settler, Client: e.Clients[model.V2], Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	logs := &msgLog{seen: make(chan string, 16)}
	h, err := handler.NewCloseAttempt(handler.CloseConfig{Reconciler: rec, Authorize: func(*http.Request, *store.Order) handler.StatusAccess {
		return handler.StatusPayer
	}, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /pay/orders/{out_trade_no}/close", h)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/pay/orders/LOGS00001/close", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("store read failed: got %d %s, want 503", w.Code, w.Body)
	}
	if !logs.has("handler: close lookup failed") {
		t.Errorf("the failure did not reach the route's Logger; got %q", logs.msgs)
	}
}

// statusAs is a memstore whose reads report every attempt in status, as
// a store whose rows something else changed would.
type statusAs struct {
	*memstore.Store
	status store.Status
}

func (s statusAs) Get(ctx context.Context, otn string) (*store.Order, error) {
	o, err := s.Store.Get(ctx, otn)
	if err == nil {
		o.Status = s.status
	}
	return o, err
}

// TestCloseVerdictOfEveryStatus: Close of an attempt the store holds
// REFUNDED is refused as paid (its payment went through), and one in a
// status the kit does not know is an error that names it. Kills
// reconciler_close.go verdictOf's 'o.Status == store.Refunded' →
// '!= store.Refunded' (REFUNDED read as unknown) and 'o.Status ==
// store.Pending' → '!= store.Pending' (the unknown status reported as
// PENDING).
func TestCloseVerdictOfEveryStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status store.Status
		check  func(error) bool
		want   string
	}{
		{store.Refunded, func(err error) bool { return errors.Is(err, handler.ErrAttemptPaid) }, "ErrAttemptPaid"},
		{"WEIRD", func(err error) bool { return err != nil && strings.Contains(err.Error(), "unknown status WEIRD") }, "unknown status WEIRD"},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{wrap: func(m *memstore.Store) store.OrderStore {
				return statusAs{Store: m, status: tc.status}
			}})
			e.AddOrder("VERDICT1", mchA, 300)
			otn := e.MustPreOrder(t, model.V2, "VERDICT1", model.PayWeChat)
			r := e.reconciler(t, model.V2)
			res, err := r.Close(context.Background(), otn)
			if !tc.check(err) {
				t.Errorf("Close of a %s attempt: got %+v, %v; want %s", tc.status, res, err, tc.want)
			}
			if st := simState(t, e, otn); st != gatewaytest.Unpaid {
				t.Errorf("gateway: got %s, want UNPAID (no cancel sent)", st)
			}
		})
	}
}

// TestStatusShowsRefundedPayment: the status view of a REFUNDED attempt
// still shows the payment it refunded: the channel's transaction id and
// the money facts. Kills status.go viewOf's 'o.Status == store.Refunded'
// → '!= store.Refunded'.
func TestStatusShowsRefundedPayment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem := memstore.New()
	now := time.Now()
	o := &store.Order{OutTradeNo: "REFVIEW01", BusinessID: "REFVIEW", Attempt: 1, MchID: mchA,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: 500, Status: store.Pending, CreatedAt: now, UpdatedAt: now}
	if err := mem.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Settle(ctx, o.OutTradeNo, store.Payment{TransactionID: "T-REFVIEW", ChannelTransactionID: "WX-REFVIEW",
		PaidAt: now, Money: store.MoneyFacts{Recorded: true, CashFee: 500, FeeType: "CNY"}}, now); err != nil {
		t.Fatal(err)
	}
	st, err := handler.NewStatus(handler.StatusConfig{Store: statusAs{Store: mem, status: store.Refunded}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	st.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/pay/orders?out_trade_no=REFVIEW01", nil))
	var v handler.OrderView
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || w.Code != http.StatusOK {
		t.Fatalf("status: got %d %s", w.Code, w.Body)
	}
	if v.Status != string(store.Refunded) || v.OutTransactionID != "WX-REFVIEW" || v.Money == nil || v.Money.CashFee != 500 {
		t.Errorf("view of a REFUNDED attempt: got %+v, want REFUNDED with out_transaction_id WX-REFVIEW and its money", v)
	}
}

// TestStatusOrderIDOf128Bytes: an order_id of exactly 128 bytes is within
// the bound and looked up (an unknown one is 404); 129 bytes is 400.
// Kills status.go's 'len(bid) > 128' → '>= 128'.
func TestStatusOrderIDOf128Bytes(t *testing.T) {
	t.Parallel()
	st, err := handler.NewStatus(handler.StatusConfig{Store: memstore.New(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]int{128: http.StatusNotFound, 129: http.StatusBadRequest} {
		w := httptest.NewRecorder()
		st.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/pay/orders?order_id="+strings.Repeat("A", n), nil))
		if w.Code != want {
			t.Errorf("order_id of %d bytes: got %d %s, want %d", n, w.Code, w.Body, want)
		}
	}
}

// TestStatusPrefersLaterPaidAttempt: by business order, a PAID attempt
// wins over an earlier PENDING one. Kills status.go latest's 'o.Status ==
// store.Refunded' → '!= store.Refunded' (the first attempt that is not
// REFUNDED then wins, paid or not).
func TestStatusPrefersLaterPaidAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem := memstore.New()
	now := time.Now()
	for i := range 2 {
		otn := handler.OutTradeNo("LATERPAID", i+1)
		if err := mem.Create(ctx, &store.Order{OutTradeNo: otn, BusinessID: "LATERPAID", Attempt: i + 1, MchID: mchA,
			Channel: model.PayWeChat, Version: model.V2, Amount: 10, Status: store.Pending, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	paid := handler.OutTradeNo("LATERPAID", 2)
	if _, err := mem.Settle(ctx, paid, store.Payment{TransactionID: "T-LATER", PaidAt: now}, now); err != nil {
		t.Fatal(err)
	}
	st, err := handler.NewStatus(handler.StatusConfig{Store: mem, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	st.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/pay/orders?order_id=LATERPAID", nil))
	var v handler.OrderView
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || w.Code != http.StatusOK {
		t.Fatalf("status: got %d %s", w.Code, w.Body)
	}
	if v.OutTradeNo != paid || v.Status != string(store.Paid) {
		t.Errorf("got %s %s, want the PAID second attempt %s", v.OutTradeNo, v.Status, paid)
	}
}

// TestReconcilerReportsFulfilRetry: a fulfilment the Reconciler retried
// and the hook then accepted is reported (SettlerConfig.Observe, source
// retry) once, without an error. Kills reconciler.go retryFulfil's
// 'outcome == Duplicate' → '!= Duplicate' (the successful retry
// reported nowhere).
func TestReconcilerReportsFulfilRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.Hooks.Decide(func(o store.Order, call int) error {
		if call == 1 {
			return errors.New("once")
		}
		return nil
	})
	o := e.CreatePending(t, "HOOKREPORT1", mchA, model.V2, 100)
	if got := e.PostNotify(t, signedNotification(t, o, keyA, nil)); got != "fail" {
		t.Fatalf("got %q, want fail", got)
	}
	r := e.reconciler(t, model.V2)
	for range 2 {
		if err := r.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if o := e.Get(t, o.OutTradeNo); !o.Fulfilled || e.Hooks.Calls(o.OutTradeNo) != 2 {
		t.Fatalf("after the retry: fulfilled %v, hook calls %d; want fulfilled by the second call", o.Fulfilled, e.Hooks.Calls(o.OutTradeNo))
	}
	var retries []handler.Event
	for _, ev := range e.Rec.Events() {
		if ev.Source == handler.SourceRetry {
			retries = append(retries, ev)
		}
	}
	if len(retries) != 1 || retries[0].Err != nil || retries[0].Outcome == handler.Duplicate {
		t.Errorf("retry events: got %+v, want one, without an error, not a duplicate", retries)
	}
}

// staleFulfil is a Scheduler that hands out one fulfilment claim for otn
// once, as an instance whose claim was taken just before a notification
// fulfilled the attempt would hold it.
type staleFulfil struct {
	*memstore.Store
	otn    string
	handed bool
}

func (s *staleFulfil) Claim(ctx context.Context, r store.ClaimRequest) ([]store.Claim, error) {
	if r.Kind == store.KindFulfil && !s.handed {
		s.handed = true
		return []store.Claim{{Kind: store.KindFulfil, Key: s.otn, Due: r.Now, Token: "stale"}}, nil
	}
	return s.Store.Claim(ctx, r)
}

func (s *staleFulfil) Reschedule(ctx context.Context, c store.Claim, next time.Time) error {
	if c.Token == "stale" {
		return nil
	}
	return s.Store.Reschedule(ctx, c, next)
}

// TestReconcilerQuietOnFulfilledRetry: a fulfilment claim that finds the
// attempt already fulfilled (a redelivered notification did it after the
// claim) is not reported: nothing happened. Kills reconciler.go
// retryFulfil's 'err == nil' → 'err != nil' (the duplicate reported as a
// retry outcome).
func TestReconcilerQuietOnFulfilledRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	o := e.CreatePending(t, "HOOKQUIET1", mchA, model.V2, 100)
	if got := e.PostNotify(t, signedNotification(t, o, keyA, nil)); got != "success" {
		t.Fatalf("got %q, want success", got)
	}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Now: e.Clock.Now,
		Scheduler: &staleFulfil{Store: e.Mem, otn: o.OutTradeNo},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.Hooks.Calls(o.OutTradeNo); n != 1 {
		t.Fatalf("hook calls: got %d, want 1", n)
	}
	for _, ev := range e.Rec.Events() {
		if ev.Source == handler.SourceRetry {
			t.Errorf("retry event for a fulfilment already done: %+v", ev)
		}
	}
}

// TestNewReconcilerTailStepOfOneInterval: a tail step may be exactly
// Interval ("each must be at least Interval"); a shorter one is refused.
// Kills reconciler.go NewReconciler's 'd < r.interval' → '<='.
func TestNewReconcilerTailStepOfOneInterval(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for step, ok := range map[time.Duration]bool{10 * time.Second: true, 9 * time.Second: false} {
		_, err := handler.NewReconciler(handler.ReconcilerConfig{
			Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(),
			Interval: 10 * time.Second, TailSteps: []time.Duration{time.Minute, step},
		})
		if (err == nil) != ok {
			t.Errorf("TailSteps holding %s with Interval 10s: got %v, want accepted %v", step, err, ok)
		}
	}
}

// TestNewReconcilerBoundsAtTheirEdges: each documented bound of
// ReconcilerConfig holds exactly at its edge: FastWindow 60 s and 180 s
// are accepted, 59 s and 181 s refused; FirstDelay must be shorter than
// FastWindow; MaxAge may equal it; ClaimTTL must exceed the Settler's
// LockTTL (30 s by default); a negative HistoryBatch is refused. Kills
// the '<'/'<='/'>'/'>=' boundary mutants of NewReconciler's checks.
func TestNewReconcilerBoundsAtTheirEdges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		name string
		cfg  handler.ReconcilerConfig
		ok   bool
	}{
		{"FastWindow 60s", handler.ReconcilerConfig{FastWindow: 60 * time.Second}, true},
		{"FastWindow 59s", handler.ReconcilerConfig{FastWindow: 59 * time.Second}, false},
		{"FastWindow 180s", handler.ReconcilerConfig{FastWindow: 180 * time.Second}, true},
		{"FastWindow 181s", handler.ReconcilerConfig{FastWindow: 181 * time.Second}, false},
		{"FirstDelay just under FastWindow", handler.ReconcilerConfig{FastWindow: 60 * time.Second, FirstDelay: 59 * time.Second}, true},
		{"FirstDelay equal to FastWindow", handler.ReconcilerConfig{FastWindow: 60 * time.Second, FirstDelay: 60 * time.Second}, false},
		{"MaxAge equal to FastWindow", handler.ReconcilerConfig{FastWindow: 60 * time.Second, MaxAge: 60 * time.Second}, true},
		{"MaxAge under FastWindow", handler.ReconcilerConfig{FastWindow: 60 * time.Second, MaxAge: 59 * time.Second}, false},
		{"ClaimTTL just over LockTTL", handler.ReconcilerConfig{ClaimTTL: 30*time.Second + time.Nanosecond}, true},
		{"ClaimTTL equal to LockTTL", handler.ReconcilerConfig{ClaimTTL: 30 * time.Second}, false},
		{"HistoryBatch -1", handler.ReconcilerConfig{HistoryBatch: -1}, false},
	} {
		cfg := tc.cfg
		cfg.Settler, cfg.Client, cfg.Logger = e.Settler, e.Clients[model.V2], quietLogger()
		if _, err := handler.NewReconciler(cfg); (err == nil) != tc.ok {
			t.Errorf("%s: got %v, want accepted %v", tc.name, err, tc.ok)
		}
	}
}

// TestReconcilerRunLogsToItsLogger: Run says in the Logger it was given
// that a pass failed (here the store's claims fail). Kills reconciler.go
// NewReconciler's 'r.log == nil' → '!=' (the given logger replaced by the
// default one) and Run's 'err != nil' → '==' and 'ctx.Err() == nil' →
// '!=' (a failed pass not logged while running).
func TestReconcilerRunLogsToItsLogger(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	st := brokenReads{memstore.New()}
	settler, err := handler.NewSettler(handler.SettlerConfig{Store: st, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	logs := &msgLog{seen: make(chan string, 16)}
	rec, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: settler, Client: e.Clients[model.V2], Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	timeout := time.After(30 * time.Second)
	for !logs.has("handler: reconcile pass failed") {
		select {
		case <-logs.seen:
			continue
		case <-timeout:
			t.Error("no failed-pass line in the Reconciler's Logger within 30 s")
		}
		break
	}
	cancel()
	<-done
}

// claimLog is a Scheduler that records every claim request it is asked.
type claimLog struct {
	*memstore.Store
	mu   sync.Mutex
	reqs []store.ClaimRequest
	got  int
}

func (s *claimLog) Claim(ctx context.Context, r store.ClaimRequest) ([]store.Claim, error) {
	c, err := s.Store.Claim(ctx, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	s.got += len(c)
	return c, err
}

// TestReconcilerClaimsNoMoreThanBatch: a pass that has handled Batch
// items asks the store for nothing more, not even a claim of limit 0
// (three wasted round trips per pass, and a store failing on them would
// fail a pass whose work was all done). Kills reconciler.go RunOnce's
// 'done < r.batch' → '<='.
func TestReconcilerClaimsNoMoreThanBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.backlog(t, 5, 2*time.Hour)
	s := &claimLog{Store: e.Mem}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Now: e.Clock.Now,
		Scheduler: s, Concurrency: 1, Batch: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = r.RunOnce(context.Background()) // the backlog is unknown at the gateway: its queries fail
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got != 2 {
		t.Errorf("claimed %d items in one pass, want Batch (2)", s.got)
	}
	for _, req := range s.reqs {
		if req.Limit < 1 {
			t.Errorf("claim of %s with limit %d, after Batch items", req.Kind, req.Limit)
		}
	}
}

// failingPoller is a refunder whose every Poll fails.
type failingPoller struct {
	calls int
	err   error
}

func (p *failingPoller) Poll(context.Context) (int, error) {
	p.calls++
	return 0, p.err
}

// TestReconcilerReportsFailedRefundPoll: a pass polls its Refunder once
// and returns the poll's failure (refund.TestReconcilerPollsRefunds
// checks a poll that succeeds). Kills reconciler.go RunOnce's
// 'err != nil' → '==' after Poll (the failure dropped) and
// 'ctx.Err() == nil' → '!=' before it (no poll while the context lives).
func TestReconcilerReportsFailedRefundPoll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	p := &failingPoller{err: errors.New("refund store down")}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Now: e.Clock.Now,
		Scheduler: e.Mem, Refunder: p,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunOnce(context.Background()); !errors.Is(err, p.err) {
		t.Errorf("RunOnce: got %v, want the refunder's failure", err)
	}
	if p.calls != 1 {
		t.Errorf("Poll calls in one pass: got %d, want 1", p.calls)
	}
}

// failingReschedule is a Scheduler whose Reschedule always fails.
type failingReschedule struct {
	*memstore.Store
	err error
}

func (s failingReschedule) Reschedule(context.Context, store.Claim, time.Time) error {
	return s.err
}

// TestReconcilerReportsFailedReschedule: a claim the pass could not hand
// back (its item waits for the claim to lapse) is one of the pass's
// errors. Kills reconciler.go handleAll's 'rerr != nil' → '==' (the
// failure dropped).
func TestReconcilerReportsFailedReschedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.backlog(t, 1, 2*time.Hour)
	s := failingReschedule{Store: e.Mem, err: errors.New("schedule store down")}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Now: e.Clock.Now,
		Scheduler: s,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunOnce(context.Background()); !errors.Is(err, s.err) {
		t.Errorf("RunOnce: got %v, want the failed reschedule among its errors", err)
	}
}

// stopOnWait is a Limiter that lets the call through but stops the
// instance first (its pass's context ends), as a shutdown in the middle
// of a gateway call would.
type stopOnWait struct{ stop context.CancelFunc }

func (l stopOnWait) Wait(context.Context) error {
	l.stop()
	return nil
}

// TestReconcilerStoppedCheckStaysDue: a check cut short by the instance
// stopping did not happen, so its attempt keeps its due time for another
// instance rather than moving to its next point. Kills reconciler.go
// handleAll's 'err != nil' → '==' (the failed check rescheduled as if it
// had run).
func TestReconcilerStoppedCheckStaysDue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.backlog(t, 1, 2*time.Hour)[0]
	due := e.Get(t, otn).NextDue
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Now: e.Clock.Now,
		Scheduler: e.Mem, Limiter: stopOnWait{stop: stop},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunOnce(ctx); err == nil {
		t.Fatal("RunOnce of a stopped instance: got nil, want the context's error")
	}
	if got := e.Get(t, otn).NextDue; !got.Equal(due) {
		t.Errorf("after a check cut short: next due %v, want still %v", got, due)
	}
}
