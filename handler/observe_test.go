package handler_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// span is one stage a spanRecorder saw.
type span struct {
	Stage  handler.Stage
	Parent handler.Stage // "" for a root
	Ended  int
	Err    bool
}

// spanRecorder is a handler.Trace that records stages and their parents,
// carried in the context as a real tracer would.
type spanRecorder struct {
	mu    sync.Mutex
	spans []*span
}

type spanKey struct{}

func (r *spanRecorder) Trace(ctx context.Context, st handler.Stage) (context.Context, func(error)) {
	s := &span{Stage: st}
	if p, ok := ctx.Value(spanKey{}).(*span); ok {
		s.Parent = p.Stage
	}
	r.mu.Lock()
	r.spans = append(r.spans, s)
	r.mu.Unlock()
	return context.WithValue(ctx, spanKey{}, s), func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		s.Ended++
		s.Err = err != nil
	}
}

func (r *spanRecorder) Spans() []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]span, len(r.spans))
	for i, s := range r.spans {
		out[i] = *s
	}
	return out
}

// observed is a Notify on memstore with every hook recorded.
type observed struct {
	mem    *memstore.Store
	spans  *spanRecorder
	rec    *handlertest.Recorder
	notify *handler.Notify
	hook   func(context.Context, store.Order) error
}

func newObserved(t *testing.T, hook func(context.Context, store.Order) error) *observed {
	t.Helper()
	o := &observed{mem: memstore.New(), spans: &spanRecorder{}, rec: &handlertest.Recorder{}, hook: hook}
	s, err := handler.NewSettler(handler.SettlerConfig{
		Store: o.mem, Fulfill: hook, Observe: o.rec.Observe, Alert: o.rec.Alert,
		Trace: o.spans.Trace, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	o.notify, err = handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: handlertest.Keyring(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (o *observed) pending(t *testing.T, otn string) *store.Order {
	t.Helper()
	now := time.Now()
	ord := &store.Order{OutTradeNo: otn, BusinessID: "B" + otn, Attempt: 1, MchID: mchA,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: 500, Status: store.Pending, CreatedAt: now, UpdatedAt: now}
	if err := o.mem.Create(context.Background(), ord); err != nil {
		t.Fatal(err)
	}
	return ord
}

func (o *observed) post(body string) string {
	return httptestRecorder(o.notify, http.MethodPost, "/notify", formType, body).Body.String()
}

// TestTraceNotificationStages proves the stages of a notification reach
// SettlerConfig.Trace nested as a tracer needs them: verify and settle
// under notify, fulfil under settle, each ended once, with the error that
// ended it.
func TestTraceNotificationStages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		hook  error
		sign  string // replaces the sign when set
		reply string
		want  []span
	}{
		{
			name: "settled", reply: "success",
			want: []span{
				{Stage: handler.StageNotify, Ended: 1},
				{Stage: handler.StageVerify, Parent: handler.StageNotify, Ended: 1},
				{Stage: handler.StageSettle, Parent: handler.StageNotify, Ended: 1},
				{Stage: handler.StageFulfil, Parent: handler.StageSettle, Ended: 1},
			},
		},
		{
			name: "hook fails", hook: errors.New("warehouse down"), reply: "fail",
			want: []span{
				{Stage: handler.StageNotify, Ended: 1, Err: true},
				{Stage: handler.StageVerify, Parent: handler.StageNotify, Ended: 1},
				{Stage: handler.StageSettle, Parent: handler.StageNotify, Ended: 1, Err: true},
				{Stage: handler.StageFulfil, Parent: handler.StageSettle, Ended: 1, Err: true},
			},
		},
		{
			name: "bad sign", sign: strings.Repeat("0", 32), reply: "fail",
			want: []span{
				{Stage: handler.StageNotify, Ended: 1, Err: true},
				{Stage: handler.StageVerify, Parent: handler.StageNotify, Ended: 1, Err: true},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newObserved(t, func(context.Context, store.Order) error { return tc.hook })
			ord := o.pending(t, "TRACE0001")
			v := signedNotification(t, ord, keyA, nil)
			if tc.sign != "" {
				v.Set("sign", tc.sign)
			}
			if got := o.post(v.Encode()); got != tc.reply {
				t.Fatalf("reply: got %q, want %q", got, tc.reply)
			}
			if diff := cmp.Diff(tc.want, o.spans.Spans()); diff != "" {
				t.Errorf("stages (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTraceFulfilPanic proves a panicking hook ends its stage with an
// error, not silently.
func TestTraceFulfilPanic(t *testing.T) {
	t.Parallel()
	o := newObserved(t, func(context.Context, store.Order) error { panic("boom") })
	ord := o.pending(t, "TRACEPANIC1")
	if got := o.post(signedNotification(t, ord, keyA, nil).Encode()); got != "fail" {
		t.Fatalf("reply: got %q, want fail", got)
	}
	for _, s := range o.spans.Spans() {
		if s.Stage == handler.StageFulfil && (!s.Err || s.Ended != 1) {
			t.Errorf("fulfil stage: got %+v, want ended once with an error", s)
		}
	}
}

// TestEventDuration proves a notification's Event carries how long it
// took, and a duplicate's too.
func TestEventDuration(t *testing.T) {
	t.Parallel()
	o := newObserved(t, nil)
	ord := o.pending(t, "DURATION01")
	body := signedNotification(t, ord, keyA, nil).Encode()
	for range 2 {
		if got := o.post(body); got != "success" {
			t.Fatalf("reply: got %q, want success", got)
		}
	}
	events := o.rec.Events()
	if len(events) != 2 {
		t.Fatalf("events: got %d, want 2", len(events))
	}
	for _, e := range events {
		if e.Source != handler.SourceNotify || e.Duration <= 0 {
			t.Errorf("event %v from %s: got Duration %v, want it set", e.Outcome, e.Source, e.Duration)
		}
	}
}

// TestTracePreOrder proves a pre-order runs under StagePreOrder, that its
// gateway call carries the stage's context and client.CallOp, and that a
// 5xx ends the stage with an error while a 4xx does not.
func TestTracePreOrder(t *testing.T) {
	t.Parallel()
	sim := gatewaytest.RunT(t, gatewaytest.Config{Merchants: merchants, AgentID: agentID, AgentKey: agentKey, TimeScale: 0.001})
	spans := &spanRecorder{}
	var (
		mu  sync.Mutex
		ops []string
	)
	transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		parent, _ := r.Context().Value(spanKey{}).(*span)
		mu.Lock()
		ops = append(ops, fmt.Sprintf("%s under %v", client.CallOp(r.Context()), parent != nil && parent.Stage == handler.StagePreOrder))
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})
	c, err := client.New(client.Config{GatewayURL: sim.URL, OpenURL: sim.URL, Keys: handlertest.Keyring(),
		HTTPClient: &http.Client{Transport: transport, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New()
	po, err := handler.NewPreOrder(handler.PreOrderConfig{
		Store: mem, Client: c, NotifyURL: "http://shop.example/notify", Logger: quietLogger(), Trace: spans.Trace,
		Authorize: handler.AllowAnyone,
		Resolve: func(_ context.Context, id string) (handler.Purchase, error) {
			if id == "BROKEN" {
				return handler.Purchase{}, errors.New("database down")
			}
			return handler.Purchase{MchID: mchA, Amount: 100, Body: "goods"}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body   string
		status int
		err    bool
	}{
		{`{"order_id":"TRACEPO1","channel":"WECHAT"}`, http.StatusCreated, false},
		{`{"order_id":"TRACEPO2","channel":"NOPE"}`, http.StatusUnprocessableEntity, false},
		{`{"order_id":"BROKEN","channel":"WECHAT"}`, http.StatusInternalServerError, true},
	} {
		before := len(spans.Spans())
		w := httptestRecorder(po, http.MethodPost, "/preorder", "application/json", tc.body)
		if w.Code != tc.status {
			t.Fatalf("%s: got status %d, want %d", tc.body, w.Code, tc.status)
		}
		got := spans.Spans()[before:]
		want := []span{{Stage: handler.StagePreOrder, Ended: 1, Err: tc.err}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: stages (-want +got):\n%s", tc.body, diff)
		}
	}
	if diff := cmp.Diff([]string{"preorder under true"}, ops); diff != "" {
		t.Errorf("gateway requests (-want +got):\n%s", diff)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestObservePass proves the Reconciler reports each pass's counts and
// runs it as one StageReconcile whose settlements are its children.
func TestObservePass(t *testing.T) {
	t.Parallel()
	sim := gatewaytest.RunT(t, gatewaytest.Config{Merchants: merchants, AgentID: agentID, AgentKey: agentKey, TimeScale: 0.001})
	c, err := client.New(client.Config{GatewayURL: sim.URL, OpenURL: sim.URL, Keys: handlertest.Keyring(),
		HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New()
	spans := &spanRecorder{}
	s, err := handler.NewSettler(handler.SettlerConfig{Store: mem, Trace: spans.Trace, Logger: quietLogger(),
		Fulfill: func(context.Context, store.Order) error { return errors.New("not yet") }})
	if err != nil {
		t.Fatal(err)
	}
	clock := handlertest.NewClock()
	var passes []handler.PassEvent
	r, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: s, Client: c, Now: clock.Now, Logger: quietLogger(),
		ObservePass: func(p handler.PassEvent) { passes = append(passes, p) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := clock.Now().Add(-time.Minute)
	for i, otn := range []string{"PASSUNKNOWN1", "PASSUNKNOWN2", "PASSPAID1"} {
		o := &store.Order{OutTradeNo: otn, BusinessID: fmt.Sprint("PB", i), Attempt: 1, MchID: mchA,
			Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
			Amount: 100, Status: store.Pending, CreatedAt: old, UpdatedAt: old}
		if err := mem.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := mem.Settle(ctx, "PASSPAID1", store.Payment{TransactionID: "TPASS1", PaidAt: old}, old); err != nil {
		t.Fatal(err)
	}
	if err := r.RunOnce(ctx); err == nil {
		t.Fatal("RunOnce: got nil, want the failing hook's error")
	}
	if len(passes) != 1 {
		t.Fatalf("passes: got %d, want 1", len(passes))
	}
	got := passes[0]
	if got.Err == nil || got.Duration <= 0 {
		t.Errorf("pass: got Err %v Duration %v, want the error and a duration", got.Err, got.Duration)
	}
	got.Err, got.Duration = nil, 0
	if diff := cmp.Diff(handler.PassEvent{Pending: 2, Checked: 2, Unfulfilled: 1, Failed: 1}, got); diff != "" {
		t.Errorf("pass (-want +got):\n%s", diff)
	}
	want := []span{
		{Stage: handler.StageReconcile, Ended: 1, Err: true},
		{Stage: handler.StageFulfil, Parent: handler.StageReconcile, Ended: 1, Err: true},
	}
	if diff := cmp.Diff(want, spans.Spans()); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
}

// TestNoTraceNoHook proves the hooks are optional: with none set, the
// kit neither panics nor changes a reply.
func TestNoTraceNoHook(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	s, err := handler.NewSettler(handler.SettlerConfig{Store: mem, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: handlertest.Keyring(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ord := &store.Order{OutTradeNo: "NOHOOK001", BusinessID: "BNOHOOK", Attempt: 1, MchID: mchA,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: 500, Status: store.Pending, CreatedAt: now, UpdatedAt: now}
	if err := mem.Create(context.Background(), ord); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader(signedNotification(t, ord, keyA, nil).Encode()))
	r.Header.Set("Content-Type", formType)
	w := httptest.NewRecorder()
	n.ServeHTTP(w, r)
	if w.Body.String() != "success" {
		t.Fatalf("reply: got %q, want success", w.Body.String())
	}
}
