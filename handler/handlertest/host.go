package handlertest

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
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// The Host's merchants and keys: MchA and MchB are known to the
// simulator; MchGone has a key in the Host's Keyring but is unknown to the
// simulator, which answers it with a merchant error. The agent signs v1
// traffic.
const (
	MchA     = "M100001"
	MchB     = "M100002"
	MchGone  = "M100009"
	KeyA     = "merchant-key-a-0123456789abcdef"
	KeyB     = "merchant-key-b-0123456789abcdef"
	KeyGone  = "merchant-key-gone-0123456789abc"
	AgentID  = "A9001"
	AgentKey = "agent-key-0123456789abcdef0123"
)

// FormType is the content type of the gateway's notifications.
const FormType = "application/x-www-form-urlencoded"

// Merchants returns the merchants the simulator knows, mch_id to key: a
// fresh map on each call.
func Merchants() map[string]string { return map[string]string{MchA: KeyA, MchB: KeyB} }

// Keyring returns the Host's keys: the agent's and those of MchA, MchB and
// MchGone.
func Keyring() client.Keyring {
	keys := Merchants()
	keys[MchGone] = KeyGone
	return client.Keyring{AgentID: AgentID, AgentKey: AgentKey, MerchantKeys: client.StaticMerchantKeys(keys)}
}

// KeyFor returns the key that signs o's traffic: the agent's for a v1
// attempt, else its merchant's.
func KeyFor(o *store.Order) string {
	if o.Version == model.V1 {
		return AgentKey
	}
	return Merchants()[o.MchID]
}

// HostConfig shapes a Host; its zero value is a Host with the defaults
// each field names.
type HostConfig struct {
	// Wrap, when not nil, wraps the Host's memstore as the store every
	// handler uses (to inject faults or count calls). Nil means the
	// memstore itself.
	Wrap func(*memstore.Store) store.OrderStore
	// Deadline is NotifyConfig.Deadline. Zero means 10 s, not Notify's
	// 2 s: tests run with -race on shared machines, where the default
	// would let load turn a correct settlement into "fail". Tests of the
	// deadline set their own.
	Deadline time.Duration
	// TimeScale scales the simulator's notification schedule. Zero means
	// 0.001.
	TimeScale float64
	// Faults are the simulator's faults per out_trade_no. Nil means none.
	Faults func(outTradeNo string) gatewaytest.Faults
	// SimClock runs the simulator on the Host's Clock (time_expire and the
	// cancel window follow it) instead of the real one.
	SimClock bool
	// ClientTimeout bounds the gateway clients' HTTP calls. Zero means
	// 10 s.
	ClientTimeout time.Duration
	// LogOut receives the handlers' logs as text, from level debug. Nil
	// discards them.
	LogOut io.Writer
	// DuplicateMemo is NotifyConfig.DuplicateMemo.
	DuplicateMemo int
	// Inbox is the Settler's inbox. Nil means none.
	Inbox store.InboxStore
	// Events is the Settler's and the pre-orders' history. Nil means none.
	Events store.EventStore
	// AutoRefund, when not nil, is called once the Host's store, clients,
	// Clock and Rec exist, and what it returns is SettlerConfig.AutoRefund
	// (a refund.Refunder on h.Mem, say), kept in Host.Remedy. Nil means no
	// automatic refunds.
	AutoRefund func(h *Host) handler.Remedy
}

// Host is a shop wired the way a real one is, for end-to-end tests of the
// handlers and of what is built on them: the gateway simulator, a client
// per protocol version, one memstore, and the kit's Settler, Notify,
// PreOrder (one per version) and Status on a real HTTP server at
// POST /notify, POST /preorder/{v1,v2} and GET /orders/{out_trade_no}
// (and GET /orders), with a Clock the test moves, a Fulfill hook that
// counts its calls, and every Alert and Event kept. Its pre-orders resolve
// the business orders given to AddOrder or AddPurchase, and any caller may
// pre-order.
type Host struct {
	// Sim is the gateway simulator, closed when the test ends.
	Sim *gatewaytest.Server
	// Mem is the memstore under Store; it is also the Settler's Locker.
	Mem *memstore.Store
	// Store is what the handlers use: Mem, or HostConfig.Wrap's store.
	Store store.OrderStore
	// Clients holds a client per protocol version (v1, v2), each sending
	// through OnPath to Sim.
	Clients map[model.Version]*client.Client
	// Settler is the Host's Settler, its instance named "test-host".
	Settler *handler.Settler
	// Notify is the notification handler mounted at /notify.
	Notify *handler.Notify
	// Server serves the handlers; closed when the test ends.
	Server *httptest.Server
	// Hooks is the Settler's Fulfill.
	Hooks *Hooks
	// Rec keeps the Settler's alerts and events.
	Rec *Recorder
	// Clock is the handlers' clock (and Sim's with HostConfig.SimClock).
	Clock *Clock
	// OnPath stands between the clients and Sim; with no rules it changes
	// nothing.
	OnPath *gatewaytest.OnPath
	// Remedy is what HostConfig.AutoRefund returned; nil without.
	Remedy handler.Remedy

	business sync.Map // business id -> handler.Purchase
}

// NewHost builds a Host for t; everything it starts stops when t ends.
func NewHost(t testing.TB, cfg HostConfig) *Host {
	t.Helper()
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 0.001
	}
	if cfg.Deadline == 0 {
		cfg.Deadline = 10 * time.Second
	}
	if cfg.ClientTimeout == 0 {
		cfg.ClientTimeout = 10 * time.Second
	}
	// The clients' own transport, keeping an idle connection for each of a
	// reconciler's concurrent queries: http.DefaultTransport keeps two per
	// host, so most queries of a pass dialled the simulator anew.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	t.Cleanup(tr.CloseIdleConnections)
	h := &Host{Mem: memstore.New(), Hooks: NewHooks(), Rec: &Recorder{}, Clock: NewClock(),
		Clients: map[model.Version]*client.Client{}, OnPath: gatewaytest.NewOnPath(tr)}
	h.Store = h.Mem
	if cfg.Wrap != nil {
		h.Store = cfg.Wrap(h.Mem)
	}
	simCfg := gatewaytest.Config{Merchants: Merchants(), AgentID: AgentID, AgentKey: AgentKey,
		TimeScale: cfg.TimeScale, Faults: cfg.Faults}
	if cfg.SimClock {
		simCfg.Now = h.Clock.Now
	}
	h.Sim = gatewaytest.RunT(t, simCfg)
	for _, v := range []model.Version{model.V1, model.V2} {
		c, err := client.New(client.Config{
			GatewayURL: h.Sim.URL, OpenURL: h.Sim.URL, Version: v, Keys: Keyring(),
			HTTPClient: &http.Client{Timeout: cfg.ClientTimeout, Transport: h.OnPath},
		})
		if err != nil {
			t.Fatal(err)
		}
		h.Clients[v] = c
	}
	logger := QuietLogger()
	if cfg.LogOut != nil {
		logger = slog.New(slog.NewTextHandler(cfg.LogOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.AutoRefund != nil {
		h.Remedy = cfg.AutoRefund(h)
	}
	var err error
	h.Settler, err = handler.NewSettler(handler.SettlerConfig{
		Store: h.Store, Locker: h.Mem, Fulfill: h.Hooks.Fulfill, AutoRefund: h.Remedy,
		Alert: h.Rec.Alert, Observe: h.Rec.Observe, Logger: logger, Now: h.Clock.Now,
		Inbox: cfg.Inbox, Events: cfg.Events, Instance: "test-host",
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Notify, err = handler.NewNotify(handler.NotifyConfig{Settler: h.Settler, Keys: Keyring(),
		Deadline: cfg.Deadline, Logger: logger, DuplicateMemo: cfg.DuplicateMemo})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Server = httptest.NewServer(mux)
	t.Cleanup(h.Server.Close)
	mux.Handle("/notify", h.Notify)
	for _, v := range []model.Version{model.V1, model.V2} {
		po, err := handler.NewPreOrder(handler.PreOrderConfig{
			Store: h.Store, Client: h.Clients[v], Resolve: h.Resolve, Authorize: handler.AllowAnyone,
			NotifyURL: h.Server.URL + "/notify", Logger: logger, Now: h.Clock.Now, Events: cfg.Events,
		})
		if err != nil {
			t.Fatal(err)
		}
		mux.Handle("POST /preorder/"+string(v), po)
	}
	st, err := handler.NewStatus(handler.StatusConfig{Store: h.Store, Logger: QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET /orders/{out_trade_no}", st)
	mux.Handle("GET /orders", st)
	return h
}

// QuietLogger returns a logger that discards everything.
func QuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Resolve is the pre-orders' PreOrderConfig.Resolve: the purchase given
// to AddOrder or AddPurchase, else handler.ErrOrderNotFound.
func (h *Host) Resolve(_ context.Context, id string) (handler.Purchase, error) {
	p, ok := h.business.Load(id)
	if !ok {
		return handler.Purchase{}, fmt.Errorf("order %q: %w", id, handler.ErrOrderNotFound)
	}
	return p.(handler.Purchase), nil
}

// AddPurchase makes business order id resolve to p.
func (h *Host) AddPurchase(id string, p handler.Purchase) { h.business.Store(id, p) }

// AddOrder makes business order id resolve to amount fen of test goods
// from merchant mchID.
func (h *Host) AddOrder(id, mchID string, amount int64) {
	h.AddPurchase(id, handler.Purchase{MchID: mchID, Amount: amount, Body: "test goods " + id})
}

// PreOrderReply is the pre-order handler's JSON, a success or a problem,
// with the reply's status and content type.
type PreOrderReply struct {
	// Status is the HTTP status.
	Status int
	// OutTradeNo is the attempt's out_trade_no, on success (and on a 409:
	// the paid attempt's).
	OutTradeNo string `json:"out_trade_no"`
	// OrderID is the business order's id, on success.
	OrderID string `json:"order_id"`
	// CodeURL is a NATIVE attempt's QR code content.
	CodeURL string `json:"code_url"`
	// PayInfo is a JSPAY attempt's payment parameters.
	PayInfo string `json:"pay_info"`
	// State is the attempt's status (PENDING, PAID, ...).
	State string `json:"status"`
	// Amount is the attempt's amount in fen.
	Amount int64 `json:"amount"`
	// Title is a problem's title.
	Title string `json:"title"`
	// Detail is a problem's detail.
	Detail string `json:"detail"`
	// Code is the gateway's code when it refused the pre-order.
	Code string `json:"code"`
	// Msg is the gateway's msg when it refused the pre-order.
	Msg string `json:"msg"`
	// CType is the reply's Content-Type.
	CType string
}

// PreOrder posts body as JSON to the pre-order of protocol version v.
func (h *Host) PreOrder(t testing.TB, v model.Version, body map[string]any) PreOrderReply {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(h.Server.URL+"/preorder/"+string(v), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r PreOrderReply
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("pre-order reply %q: %v", raw, err)
	}
	r.Status = resp.StatusCode
	r.CType = resp.Header.Get("Content-Type")
	return r
}

// MustPreOrder pre-orders a NATIVE payment of business order id on channel
// ch, fails t unless the reply is 201 with an out_trade_no, and returns it.
func (h *Host) MustPreOrder(t testing.TB, v model.Version, id string, ch model.PayType) string {
	t.Helper()
	r := h.PreOrder(t, v, map[string]any{"order_id": id, "channel": string(ch), "trade_type": "NATIVE"})
	if r.Status != http.StatusCreated || r.OutTradeNo == "" {
		t.Fatalf("pre-order %s: got status %d %+v, want 201 with out_trade_no", id, r.Status, r)
	}
	return r.OutTradeNo
}

// PaidAttempt pre-orders business order id of MchA for amount fen (v2,
// WeChat), pays it at the simulator, waits until the notification settled
// it, and returns its out_trade_no.
func (h *Host) PaidAttempt(t testing.TB, id string, amount int64) string {
	t.Helper()
	h.AddOrder(id, MchA, amount)
	otn := h.MustPreOrder(t, model.V2, id, model.PayWeChat)
	if err := h.Sim.Pay(otn); err != nil {
		t.Fatalf("sim.Pay(%s): %v", otn, err)
	}
	h.WaitIdle(t)
	if o := h.Get(t, otn); o.Status != store.Paid {
		t.Fatalf("attempt %s after payment: got %s, want PAID", otn, o.Status)
	}
	return otn
}

// PayTwice pays two attempts (WeChat, then Alipay) of one business order
// of MchA at the simulator, a double payment, waiting for each one's
// notifications.
func (h *Host) PayTwice(t testing.TB, id string, amount int64) (first, second string) {
	t.Helper()
	h.AddOrder(id, MchA, amount)
	first = h.MustPreOrder(t, model.V2, id, model.PayWeChat)
	second = h.MustPreOrder(t, model.V2, id, model.PayAlipay)
	for _, otn := range []string{first, second} {
		if err := h.Sim.Pay(otn); err != nil {
			t.Fatal(err)
		}
		h.WaitIdle(t)
	}
	return first, second
}

// Post posts body to path on the Host's server and returns the reply's
// status and body.
func (h *Host) Post(t testing.TB, path, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(h.Server.URL+path, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// PostNotify posts v as a notification and returns the reply's body.
func (h *Host) PostNotify(t testing.TB, v url.Values) string {
	t.Helper()
	_, body := h.Post(t, "/notify", FormType, v.Encode())
	return body
}

// CreatePending records a PENDING NATIVE WeChat attempt directly in Mem,
// of business order "B"+otn, created now by the Clock, and returns it as
// stored.
func (h *Host) CreatePending(t testing.TB, otn, mchID string, v model.Version, amount int64) *store.Order {
	t.Helper()
	now := h.Clock.Now()
	o := &store.Order{
		OutTradeNo: otn, BusinessID: "B" + otn, Attempt: 1, MchID: mchID,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: v,
		Amount: amount, Status: store.Pending, CreatedAt: now, UpdatedAt: now,
	}
	if err := h.Mem.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return h.Get(t, otn)
}

// Get returns attempt otn as Mem holds it, failing t when it cannot.
func (h *Host) Get(t testing.TB, otn string) *store.Order {
	t.Helper()
	o, err := h.Mem.Get(context.Background(), otn)
	if err != nil {
		t.Fatalf("get %s: %v", otn, err)
	}
	return o
}

// WaitIdle waits, at most 30 s, until the simulator's notification
// deliveries are done, failing t when they are not.
func (h *Host) WaitIdle(t testing.TB) {
	t.Helper()
	if !h.Sim.WaitIdle(30 * time.Second) {
		t.Fatal("simulator deliveries still running after 30s")
	}
}

// SignedNotification returns the notification the gateway would send for
// o paid in full, signed with key; mutate, when not nil, changes the
// payment first.
func SignedNotification(t testing.TB, o *store.Order, key string, mutate func(p *gatewaytest.Payment)) url.Values {
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
