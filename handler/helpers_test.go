package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// Test merchants and keys; the agent signs v1 traffic.
const (
	mchA     = "M100001"
	mchB     = "M100002"
	keyA     = "merchant-key-a-0123456789abcdef"
	keyB     = "merchant-key-b-0123456789abcdef"
	agentID  = "A9001"
	agentKey = "agent-key-0123456789abcdef0123"
)

var merchants = map[string]string{mchA: keyA, mchB: keyB}

// mchGone has a key here but is unknown to the gateway (merchant error).
const mchGone = "M100009"

func keyring() client.Keyring {
	keys := map[string]string{mchGone: "merchant-key-gone-0123456789abc"}
	for k, v := range merchants {
		keys[k] = v
	}
	return client.Keyring{AgentID: agentID, AgentKey: agentKey, MerchantKeys: client.StaticMerchantKeys(keys)}
}

// fakeClock is a settable clock shared by handlers and reconciler.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// hooks counts fulfilment calls per order and notices overlapping runs.
type hooks struct {
	mu      sync.Mutex
	calls   map[string]int
	ok      map[string]int // calls that returned nil
	running map[string]bool
	overlap atomic.Int32
	// behave decides a call's result; nil means success.
	behave func(o store.Order, call int) error
}

func newHooks() *hooks {
	return &hooks{calls: map[string]int{}, ok: map[string]int{}, running: map[string]bool{}}
}

func (h *hooks) Fulfill(ctx context.Context, o store.Order) error {
	h.mu.Lock()
	if h.running[o.OutTradeNo] {
		h.overlap.Add(1)
	}
	h.running[o.OutTradeNo] = true
	h.calls[o.OutTradeNo]++
	n := h.calls[o.OutTradeNo]
	behave := h.behave
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.running[o.OutTradeNo] = false
		h.mu.Unlock()
	}()
	if behave != nil {
		if err := behave(o, n); err != nil {
			return err
		}
	}
	if o.Status != store.Paid {
		return fmt.Errorf("hook saw status %s", o.Status)
	}
	h.mu.Lock()
	h.ok[o.OutTradeNo]++
	h.mu.Unlock()
	return nil
}

func (h *hooks) Calls(otn string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[otn]
}

func (h *hooks) OK(otn string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ok[otn]
}

// recorder keeps alerts and events.
type recorder struct {
	mu     sync.Mutex
	alerts []handler.Alert
	events []handler.Event
}

func (r *recorder) Alert(_ context.Context, a handler.Alert) {
	r.mu.Lock()
	r.alerts = append(r.alerts, a)
	r.mu.Unlock()
}

func (r *recorder) Observe(e handler.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) Alerts() []handler.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]handler.Alert(nil), r.alerts...)
}

func (r *recorder) Count(o handler.Outcome) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Outcome == o {
			n++
		}
	}
	return n
}

// envOptions shape an env; zero values are the defaults.
type envOptions struct {
	// wrap wraps the memstore (fault injection).
	wrap      func(*memstore.Store) store.OrderStore
	deadline  time.Duration
	timeScale float64
	faults    func(outTradeNo string) gatewaytest.Faults
	// clientTimeout bounds the gateway client's HTTP calls.
	clientTimeout time.Duration
	maxAge        time.Duration
	// logOut receives the handlers' logs (text, debug level); nil discards.
	logOut io.Writer
	// autoRefund turns SettlerConfig.AutoRefund on, with env.auto.
	autoRefund bool
	// memo is NotifyConfig.DuplicateMemo.
	memo int
	// simClock runs the simulator on the env's fake clock (so time_expire
	// and the cancel window follow it) instead of the real one.
	simClock bool
	// inbox and events are the Settler's (events the PreOrders' too).
	inbox  store.InboxStore
	events store.EventStore
}

// env is a host wired the way a real one is: the simulator, a client per
// protocol version, one store, and the kit's handlers on a real HTTP
// server at /notify, /preorder/{v1,v2} and /orders/{out_trade_no}.
type env struct {
	t        testing.TB
	sim      *gatewaytest.Server
	mem      *memstore.Store
	store    store.OrderStore
	clients  map[model.Version]*client.Client
	settler  *handler.Settler
	notify   *handler.Notify
	srv      *httptest.Server
	hooks    *hooks
	rec      *recorder
	clock    *fakeClock
	business sync.Map // business id -> handler.Purchase
	auto     *refund.Refunder
	// onPath stands between the clients and the simulator; with no rules
	// it changes nothing.
	onPath *gatewaytest.OnPath
}

// paidAttempt pre-orders business order id for amount fen, pays it at the
// simulator and waits until the notification settled it.
func (e *env) paidAttempt(t testing.TB, id string, amount int64) string {
	t.Helper()
	e.addOrder(id, mchA, amount)
	otn := e.mustPreOrder(t, model.V2, id, model.PayWeChat)
	if err := e.sim.Pay(otn); err != nil {
		t.Fatalf("sim.Pay(%s): %v", otn, err)
	}
	e.waitIdle(t)
	if o := e.get(t, otn); o.Status != store.Paid {
		t.Fatalf("attempt %s after payment: got %s, want PAID", otn, o.Status)
	}
	return otn
}

// refunder returns a Refunder on e's store and v2 client (AutoRefund's).
func (e *env) refunder(t testing.TB) *refund.Refunder {
	t.Helper()
	r, err := refund.New(refund.Config{
		Store: e.mem, Client: e.clients[model.V2], Alert: e.rec.Alert,
		Logger: quietLogger(), Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// payTwice pays two attempts of one business order at the simulator.
func payTwice(t *testing.T, e *env, id string, amount int64) (first, second string) {
	t.Helper()
	e.addOrder(id, mchA, amount)
	first = e.mustPreOrder(t, model.V2, id, model.PayWeChat)
	second = e.mustPreOrder(t, model.V2, id, model.PayAlipay)
	for _, otn := range []string{first, second} {
		if err := e.sim.Pay(otn); err != nil {
			t.Fatal(err)
		}
		e.waitIdle(t)
	}
	return first, second
}

// countAlerts counts the alerts of kind k e's hooks saw.
func countAlerts(e *env, k handler.AlertKind) int {
	n := 0
	for _, a := range e.rec.Alerts() {
		if a.Kind == k {
			n++
		}
	}
	return n
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newEnv(t testing.TB, opt envOptions) *env {
	t.Helper()
	if opt.timeScale == 0 {
		opt.timeScale = 0.001
	}
	if opt.deadline == 0 {
		// The tests run with -race on two shared cores; the 2 s default
		// would let a loaded machine turn a correct settlement into a
		// `fail`. Tests of the deadline set their own.
		opt.deadline = 10 * time.Second
	}
	e := &env{t: t, mem: memstore.New(), hooks: newHooks(), rec: &recorder{}, clock: newClock(),
		clients: map[model.Version]*client.Client{}}
	e.store = store.OrderStore(e.mem)
	if opt.wrap != nil {
		e.store = opt.wrap(e.mem)
	}
	simCfg := gatewaytest.Config{
		Merchants: merchants, AgentID: agentID, AgentKey: agentKey,
		TimeScale: opt.timeScale, Faults: opt.faults,
	}
	if opt.simClock {
		simCfg.Now = e.clock.Now
	}
	e.sim = gatewaytest.RunT(t, simCfg)
	timeout := opt.clientTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	e.onPath = gatewaytest.NewOnPath(nil)
	for _, v := range []model.Version{model.V1, model.V2} {
		c, err := client.New(client.Config{
			GatewayURL: e.sim.URL, OpenURL: e.sim.URL, Version: v, Keys: keyring(),
			HTTPClient: &http.Client{Timeout: timeout, Transport: e.onPath},
		})
		if err != nil {
			t.Fatal(err)
		}
		e.clients[v] = c
	}
	logger := quietLogger()
	if opt.logOut != nil {
		logger = slog.New(slog.NewTextHandler(opt.logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var err error
	if opt.autoRefund {
		e.auto = e.refunder(t)
	}
	e.settler, err = handler.NewSettler(handler.SettlerConfig{
		Store: e.store, Locker: e.mem, Fulfill: e.hooks.Fulfill, AutoRefund: e.auto,
		Alert: e.rec.Alert, Observe: e.rec.Observe, Logger: logger, Now: e.clock.Now,
		Inbox: opt.inbox, Events: opt.events, Instance: "test-host",
	})
	if err != nil {
		t.Fatal(err)
	}
	e.notify, err = handler.NewNotify(handler.NotifyConfig{
		Settler: e.settler, Keys: keyring(), Deadline: opt.deadline, Logger: logger,
		DuplicateMemo: opt.memo,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	mux.Handle("/notify", e.notify)
	for _, v := range []model.Version{model.V1, model.V2} {
		po, err := handler.NewPreOrder(handler.PreOrderConfig{
			Store: e.store, Client: e.clients[v], Resolve: e.resolve, Authorize: handler.AllowAnyone,
			NotifyURL: e.srv.URL + "/notify", Logger: logger, Now: e.clock.Now, Events: opt.events,
		})
		if err != nil {
			t.Fatal(err)
		}
		mux.Handle("POST /preorder/"+string(v), po)
	}
	st, err := handler.NewStatus(handler.StatusConfig{Store: e.store, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET /orders/{out_trade_no}", st)
	mux.Handle("GET /orders", st)
	return e
}

func (e *env) resolve(_ context.Context, id string) (handler.Purchase, error) {
	p, ok := e.business.Load(id)
	if !ok {
		return handler.Purchase{}, fmt.Errorf("order %q: %w", id, handler.ErrOrderNotFound)
	}
	return p.(handler.Purchase), nil
}

// addOrder registers a business order the resolver knows.
func (e *env) addOrder(id, mchID string, amount int64) {
	e.business.Store(id, handler.Purchase{MchID: mchID, Amount: amount, Body: "test goods " + id})
}

func (e *env) reconciler(t testing.TB, v model.Version) *handler.Reconciler {
	t.Helper()
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.settler, Client: e.clients[v], Logger: quietLogger(), Now: e.clock.Now,
		Concurrency: 8, Batch: 1000, Scheduler: e.mem,
		Clients: []*client.Client{e.clients[model.V1], e.clients[model.V2]},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// preOrderReply is the pre-order handler's JSON (success or problem).
type preOrderReply struct {
	Status     int
	OutTradeNo string `json:"out_trade_no"`
	OrderID    string `json:"order_id"`
	CodeURL    string `json:"code_url"`
	PayInfo    string `json:"pay_info"`
	State      string `json:"status"`
	Amount     int64  `json:"amount"`
	Title      string `json:"title"`
	Detail     string `json:"detail"`
	Code       string `json:"code"`
	Msg        string `json:"msg"`
	CType      string
}

// preOrder posts a JSON pre-order request.
func (e *env) preOrder(t testing.TB, v model.Version, body map[string]any) preOrderReply {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(e.srv.URL+"/preorder/"+string(v), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r preOrderReply
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("pre-order reply %q: %v", raw, err)
	}
	r.Status = resp.StatusCode
	r.CType = resp.Header.Get("Content-Type")
	return r
}

// mustPreOrder pre-orders a NATIVE payment and expects 201.
func (e *env) mustPreOrder(t testing.TB, v model.Version, id string, ch model.PayType) string {
	t.Helper()
	r := e.preOrder(t, v, map[string]any{"order_id": id, "channel": string(ch), "trade_type": "NATIVE"})
	if r.Status != http.StatusCreated || r.OutTradeNo == "" {
		t.Fatalf("pre-order %s: got status %d %+v, want 201 with out_trade_no", id, r.Status, r)
	}
	return r.OutTradeNo
}

// post sends a raw notification body.
func (e *env) post(t testing.TB, path, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(e.srv.URL+path, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const formType = "application/x-www-form-urlencoded"

// postNotify posts form values as a notification and returns the reply.
func (e *env) postNotify(t testing.TB, v url.Values) string {
	t.Helper()
	_, body := e.post(t, "/notify", formType, v.Encode())
	return body
}

// createPending records a PENDING attempt directly in the store.
func (e *env) createPending(t testing.TB, otn, mchID string, v model.Version, amount int64) *store.Order {
	t.Helper()
	now := e.clock.Now()
	o := &store.Order{
		OutTradeNo: otn, BusinessID: "B" + otn, Attempt: 1, MchID: mchID,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: v,
		Amount: amount, Status: store.Pending, CreatedAt: now, UpdatedAt: now,
	}
	if err := e.mem.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return e.get(t, otn)
}

func (e *env) get(t testing.TB, otn string) *store.Order {
	t.Helper()
	o, err := e.mem.Get(context.Background(), otn)
	if err != nil {
		t.Fatalf("get %s: %v", otn, err)
	}
	return o
}

// signedNotification is what the gateway would send for a paid order.
func signedNotification(t testing.TB, o *store.Order, key string, mutate func(p *gatewaytest.Payment)) url.Values {
	t.Helper()
	p := gatewaytest.Payment{Channel: o.Channel, MchID: o.MchID, OutTradeNo: o.OutTradeNo, TotalFee: o.Amount}
	if mutate != nil {
		mutate(&p)
	}
	v, err := gatewaytest.NotificationValues(p, key, "")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// keyFor returns the key that signs an order's traffic.
func keyFor(o *store.Order) string {
	if o.Version == model.V1 {
		return agentKey
	}
	return merchants[o.MchID]
}

// waitIdle waits for the simulator's deliveries to finish.
func (e *env) waitIdle(t testing.TB) {
	t.Helper()
	if !e.sim.WaitIdle(30 * time.Second) {
		t.Fatal("simulator deliveries still running after 30s")
	}
}

// failingStore fails Settle a given number of times.
type failingStore struct {
	store.OrderStore
	settleFails atomic.Int32
}

var errInjected = errors.New("injected store failure")

func (s *failingStore) Settle(ctx context.Context, otn string, p store.Payment, now time.Time) (bool, error) {
	if s.settleFails.Add(-1) >= 0 {
		return false, errInjected
	}
	return s.OrderStore.Settle(ctx, otn, p, now)
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustParse(t testing.TB, body string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func httptestRecorder(h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
