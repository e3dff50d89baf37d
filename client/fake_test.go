package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// Test keys. They must never show up in an error message.
const (
	mchID       = "00000001"
	merchantKey = "mchkey0123456789abcdef0123456789"
	oldMchKey   = "oldkey0123456789abcdef0123456789"
	agentID     = "13000000000000000"
	agentKey    = "agentkey456789abcdef0123456789ab"
)

// received is one request the fake gateway got.
type received struct {
	Path        string
	ContentType string
	Form        url.Values
}

// fakeGateway is an httptest server whose replies a test scripts.
type fakeGateway struct {
	srv *httptest.Server

	mu    sync.Mutex
	got   []received
	reply func(r received) (status int, body string)
}

func newFake(tb testing.TB, reply func(r received) (int, string)) *fakeGateway {
	tb.Helper()
	f := &fakeGateway{reply: reply}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		rec := received{Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Form: r.PostForm}
		f.mu.Lock()
		f.got = append(f.got, rec)
		reply := f.reply
		f.mu.Unlock()
		status, body := reply(rec)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	tb.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGateway) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}

func (f *fakeGateway) setReply(reply func(r received) (int, string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reply = reply
}

// signedJSON is a reply whose members are all strings, signed with key.
func signedJSON(tb testing.TB, key string, fields map[string]string) string {
	tb.Helper()
	m := make(map[string]string, len(fields)+1)
	for k, v := range fields {
		m[k] = v
	}
	s, err := sign.SignMap(m, key, sign.MD5)
	if err != nil {
		tb.Fatalf("SignMap: %v", err)
	}
	m["sign"] = s
	return unsignedJSON(tb, m)
}

func unsignedJSON(tb testing.TB, fields map[string]string) string {
	tb.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		tb.Fatalf("Marshal: %v", err)
	}
	return string(b)
}

// keyFor is the key a request to path must be signed with.
func keyFor(r received) string {
	if r.Form.Get("agent_id") != "" {
		return agentKey
	}
	return merchantKey
}

// okReply answers every request with a signed business success that
// echoes mch_id and out_trade_no.
func okReply(tb testing.TB) func(r received) (int, string) {
	return func(r received) (int, string) {
		fields := map[string]string{
			"state": "SUCCESS", "code": "10000", "msg": "SUCCESS", "trade_state": "SUCCESS",
			"mch_id": r.Form.Get("mch_id"), "nonce_str": "n1",
		}
		if v := r.Form.Get("out_trade_no"); v != "" {
			fields["out_trade_no"] = v
		}
		switch r.Form.Get("method") {
		case "orderquery":
			fields["transaction_id"] = "T100"
			fields["total_fee"] = "100"
			fields["base_fee"] = "100"
			fields["time_end"] = "20260101120000"
			fields["paytype"] = r.Form.Get("paytype")
		case "refund":
			fields["out_refund_no"] = r.Form.Get("out_refund_no")
			fields["refund_fee"] = r.Form.Get("refund_fee")
		case "refundquery":
			fields["refund_count"] = "1"
			fields["refund_list"] = `[{"out_refund_no":"R0001","refund_fee":50,"refund_status":"SUCCESS"}]`
		case "cancel":
		default: // pre-order
			fields["code_url"] = "weixin://wxpay/bizpayurl?pr=abc"
		}
		return http.StatusOK, signedJSON(tb, keyFor(r), fields)
	}
}

// failReply is the gateway's usual unsigned error reply.
func failReply(tb testing.TB, code, msg string) func(r received) (int, string) {
	return func(received) (int, string) {
		return http.StatusOK, unsignedJSON(tb, map[string]string{"state": "FAIL", "code": code, "msg": msg})
	}
}

// fakeClock is a clock that only Sleep advances.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, model.Beijing)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

func (c *fakeClock) slept() (n int, total time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.sleeps {
		total += d
	}
	return len(c.sleeps), total
}

// newClient returns a client of version v against base, with a fake
// clock whose real Sleep fails the test.
func newClient(tb testing.TB, v model.Version, base string, opts ...func(*client.Config)) *client.Client {
	tb.Helper()
	cfg := client.Config{
		GatewayURL: base,
		OpenURL:    base,
		Version:    v,
		Keys: client.Keyring{
			AgentID:      agentID,
			AgentKey:     agentKey,
			MerchantKeys: client.StaticMerchantKeys(map[string]string{mchID: merchantKey}),
		},
		PID:        "testpos",
		AppVersion: "2.0",
		Nonce:      func() string { return "fixednonce" },
		Sleep: func(context.Context, time.Duration) error {
			tb.Errorf("client slept on the real Sleep")
			return nil
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// noSecrets fails when an error message carries a key.
func noSecrets(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	for _, k := range []string{merchantKey, oldMchKey, agentKey} {
		if strings.Contains(err.Error(), k) {
			tb.Errorf("error %q contains a key", err)
		}
	}
}

func preOrderReq(ch model.PayType) *model.PreOrderRequest {
	return &model.PreOrderRequest{
		Channel:    ch,
		MchID:      mchID,
		Body:       "Cola",
		OutTradeNo: "ORDER00001",
		TotalFee:   100,
		TradeType:  model.TradeTypeNative,
		ProductID:  "P001",
	}
}

func queryReq() *model.OrderQueryRequest {
	return &model.OrderQueryRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: "ORDER00001"}
}

// lowerSign rewrites a signed reply's sign in lower case, as the gateway's
// own tool sends it.
func lowerSign(tb testing.TB, body string) string {
	tb.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		tb.Fatalf("Unmarshal: %v", err)
	}
	m["sign"] = strings.ToLower(m["sign"])
	return unsignedJSON(tb, m)
}
