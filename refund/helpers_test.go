package refund_test

import (
	"bytes"
	"context"
	"encoding/json"
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

// bound is how long a test waits for something that should happen at
// once before it fails.
const bound = 10 * time.Second

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

// envOptions shape an env; zero values are the defaults.
type envOptions struct {
	// clientTimeout bounds the gateway client's HTTP calls.
	clientTimeout time.Duration
	// autoRefund turns SettlerConfig.AutoRefund on, with env.auto.
	autoRefund bool
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
	e := &env{t: t, mem: memstore.New(), hooks: newHooks(), rec: &recorder{}, clock: newClock(),
		clients: map[model.Version]*client.Client{}}
	e.store = store.OrderStore(e.mem)
	simCfg := gatewaytest.Config{
		Merchants: merchants, AgentID: agentID, AgentKey: agentKey,
		TimeScale: 0.001,
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
	var err error
	if opt.autoRefund {
		e.auto = e.refunder(t, nil)
	}
	e.settler, err = handler.NewSettler(handler.SettlerConfig{
		Store: e.store, Locker: e.mem, Fulfill: e.hooks.Fulfill, AutoRefund: e.auto,
		Alert: e.rec.Alert, Observe: e.rec.Observe, Logger: logger, Now: e.clock.Now,
		Instance: "test-host",
	})
	if err != nil {
		t.Fatal(err)
	}
	e.notify, err = handler.NewNotify(handler.NotifyConfig{
		Settler: e.settler, Keys: keyring(), Logger: logger,
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
			NotifyURL: e.srv.URL + "/notify", Logger: logger, Now: e.clock.Now,
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

// waitIdle waits for the simulator's deliveries to finish.
func (e *env) waitIdle(t testing.TB) {
	t.Helper()
	if !e.sim.WaitIdle(30 * time.Second) {
		t.Fatal("simulator deliveries still running after 30s")
	}
}
