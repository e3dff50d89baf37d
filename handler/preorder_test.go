package handler_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// TestPreOrderErrors proves G6 and G8 for the pre-order proxy: the amount
// never comes from the request, and every failure is a problem+json with
// the documented status, leaving no PAID or stray PENDING attempt.
func TestPreOrderErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("ERRPAID1", mchA, 100)
	paid := e.MustPreOrder(t, model.V2, "ERRPAID1", model.PayWeChat)
	if err := e.Sim.Pay(paid); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(t)
	e.AddOrder("ERRGONE1", mchGone, 100)
	e.AddOrder("ERRJSPAY1", mchA, 100)
	e.AddOrder("ERROK1", mchA, 100)
	e.AddPurchase("ERRFREE1", handler.Purchase{MchID: mchA, Amount: 0, Body: "free"})

	tests := []struct {
		name        string
		contentType string // lines: one Content-Type header each
		body        string
		wantStatus  int
		wantCode    string // the gateway's code, for 502s
		wantDetail  string // a substring of detail
	}{
		{"amount in JSON", "application/json", `{"order_id":"ERROK1","channel":"WECHAT","amount":1}`, 400, "", "amount"},
		{"total_fee in JSON", "application/json", `{"order_id":"ERROK1","channel":"WECHAT","total_fee":"1"}`, 400, "", "total_fee"},
		{"total_fee in a form", formType, `order_id=ERROK1&channel=WECHAT&total_fee=1`, 400, "", "total_fee"},
		{"bad JSON", "application/json", `{"order_id":`, 400, "", "JSON"},
		{"number for a string", "application/json", `{"order_id":12345,"channel":"WECHAT"}`, 400, "", "strings"},
		{"duplicate form field", formType, `order_id=ERROK1&order_id=ERRPAID1&channel=WECHAT`, 400, "", "more than once"},
		{"wrong content type", "text/plain", `order_id=ERROK1`, 415, "", ""},
		{"NUL in order_id", "application/json", `{"order_id":"ERROK1\u0000","channel":"WECHAT"}`, 400, "", "order_id"},
		{"control character in buyer_id", formType, "order_id=ERROK1&channel=WECHAT&trade_type=JSPAY&sub_appid=wx1&buyer_id=o%01", 400, "", "buyer_id"},
		{"two content types", "application/json\ntext/plain", `{"order_id":"ERROK1","channel":"WECHAT"}`, 415, "", "one Content-Type"},
		{"missing order_id", "application/json", `{"channel":"WECHAT"}`, 422, "", "order_id"},
		{"unknown channel", "application/json", `{"order_id":"ERROK1","channel":"PAYPAL"}`, 422, "", "channel"},
		{"bad trade_type", formType, `order_id=ERROK1&channel=ALIPAY&trade_type=MICROPAY`, 422, "", "trade_type"},
		{"unknown business order", "application/json", `{"order_id":"NOPE1","channel":"WECHAT"}`, 404, "", "NOPE1"},
		// order_id's bound is 128 bytes, inclusive (gremlins: preorder.go:526 '> 128' as '>= 128' lived).
		{"order_id of 128 bytes", "application/json", `{"order_id":"NOPE` + strings.Repeat("8", 124) + `","channel":"WECHAT"}`, 404, "", ""},
		{"order_id of 129 bytes", "application/json", `{"order_id":"NOPE` + strings.Repeat("9", 125) + `","channel":"WECHAT"}`, 422, "", "128"},
		{"already paid", "application/json", `{"order_id":"ERRPAID1","channel":"ALIPAY"}`, 409, "", "paid"},
		{"resolver returns no amount", "application/json", `{"order_id":"ERRFREE1","channel":"WECHAT"}`, 500, "", ""},
		{"gateway: merchant unknown", "application/json", `{"order_id":"ERRGONE1","channel":"WECHAT"}`, 502, "20005", ""},
		{"gateway: JSPAY without sub_appid", "application/json", `{"order_id":"ERRJSPAY1","channel":"WECHAT","trade_type":"JSPAY"}`, 422, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.Server.URL+"/preorder/v2", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header["Content-Type"] = strings.Split(tc.contentType, "\n")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p struct {
				Type, Title, Detail, Code, Msg string
				Status                         any
				OutTradeNo                     string `json:"out_trade_no"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus || p.Status != float64(tc.wantStatus) {
				t.Errorf("status: got %d (body %d, %q), want %d", resp.StatusCode, p.Status, p.Detail, tc.wantStatus)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type: got %q, want application/problem+json", ct)
			}
			if p.Code != tc.wantCode {
				t.Errorf("gateway code: got %q, want %q", p.Code, tc.wantCode)
			}
			if !strings.Contains(p.Detail, tc.wantDetail) {
				t.Errorf("detail: got %q, want it to mention %q", p.Detail, tc.wantDetail)
			}
		})
	}
	// Attempts the gateway refused are recorded FAILED, not left PENDING.
	for _, id := range []string{"ERRGONE1"} {
		list, err := e.Mem.ListByBusinessID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Status != store.Failed {
			t.Errorf("%s attempts: got %d, want one FAILED", id, len(list))
		}
	}
	// A request that could never be sent records nothing.
	for _, id := range []string{"ERROK1", "NOPE1", "ERRFREE1", "ERRJSPAY1"} {
		if list, _ := e.Mem.ListByBusinessID(context.Background(), id); len(list) != 0 {
			t.Errorf("%s: got %d attempts, want none", id, len(list))
		}
	}
	if list, _ := e.Mem.ListByBusinessID(context.Background(), "ERRPAID1"); len(list) != 1 {
		t.Errorf("ERRPAID1: got %d attempts, want 1 (no attempt after PAID)", len(list))
	}
}

func TestPreOrderMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	po, err := handler.NewPreOrder(handler.PreOrderConfig{Store: e.Mem, Client: e.Clients[model.V2], Resolve: e.Resolve, Authorize: handler.AllowAnyone, NotifyURL: "https://shop.example/notify"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptestRecorder(po, http.MethodGet, "/", "", "")
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost {
		t.Errorf("GET: got %d Allow=%q, want 405 Allow=POST", rec.Code, rec.Header().Get("Allow"))
	}
}

// TestPreOrderAttempts proves G6: a repeated request reuses a recent
// PENDING attempt with the same channel and trade type; another channel,
// or an expired one, gets the next attempt number; a form works as JSON.
func TestPreOrderAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("REUSE1", mchA, 321)
	first := e.PreOrder(t, model.V2, map[string]any{"order_id": "REUSE1", "channel": "WECHAT"})
	again := e.PreOrder(t, model.V2, map[string]any{"order_id": "REUSE1", "channel": "wechat", "trade_type": "native"})
	if first.Status != http.StatusCreated || again.Status != http.StatusOK || again.OutTradeNo != first.OutTradeNo || again.CodeURL != first.CodeURL {
		t.Errorf("repeat: got %d %q, want 200 reusing %q", again.Status, again.OutTradeNo, first.OutTradeNo)
	}
	resp, err := http.PostForm(e.Server.URL+"/preorder/v2", url.Values{"order_id": {"REUSE1"}, "channel": {"ALIPAY"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("form pre-order: got %d, want 201", resp.StatusCode)
	}
	e.Clock.Advance(3 * 60e9)
	late := e.PreOrder(t, model.V2, map[string]any{"order_id": "REUSE1", "channel": "WECHAT"})
	if late.Status != http.StatusCreated || late.OutTradeNo != handler.OutTradeNo("REUSE1", 3) {
		t.Errorf("after reuse window: got %d %q, want 201 %q", late.Status, late.OutTradeNo, handler.OutTradeNo("REUSE1", 3))
	}
	// The amount changed: never reuse the old attempt.
	e.AddOrder("REUSE1", mchA, 400)
	changed := e.PreOrder(t, model.V2, map[string]any{"order_id": "REUSE1", "channel": "WECHAT"})
	if changed.Status != http.StatusCreated || changed.Amount != 400 {
		t.Errorf("after the amount changed: got %d amount %d, want 201 amount 400", changed.Status, changed.Amount)
	}
}

func TestOutTradeNo(t *testing.T) {
	t.Parallel()
	hashed := func(id string, suffix string) string {
		sum := sha256.Sum256([]byte(id))
		return strings.ToUpper(hex.EncodeToString(sum[:]))[:20] + suffix
	}
	long := strings.Repeat("9", 31)
	tests := []struct {
		id      string
		attempt int
		want    string
	}{
		{"ORD123", 1, "ORD12301"},
		{"ORD123", 12, "ORD12312"},
		{"abc", 1, "abc01"},
		{strings.Repeat("A", 30), 99, strings.Repeat("A", 30) + "99"},
		{"ab", 1, hashed("ab", "01")},
		{"order-42", 1, hashed("order-42", "01")},
		{long, 3, hashed(long, "03")},
		{"订单1", 2, hashed("订单1", "02")},
		{"ORD123", 100, hashed("ORD123", "100")},
		{strings.Repeat("A", 30), 1234, hashed(strings.Repeat("A", 30), "1234")},
		{"order-42", 999999999999, hashed("order-42", "999999999999")},
	}
	for _, tc := range tests {
		got := handler.OutTradeNo(tc.id, tc.attempt)
		if got != tc.want {
			t.Errorf("OutTradeNo(%q, %d): got %q, want %q", tc.id, tc.attempt, got, tc.want)
		}
		if !validOutTradeNo(got) {
			t.Errorf("OutTradeNo(%q, %d) = %q does not match ^[A-Za-z0-9]{5,32}$", tc.id, tc.attempt, got)
		}
	}
	// Fixed-width attempts keep neighbours apart, past 99 too.
	for _, pair := range [][2]string{
		{handler.OutTradeNo("A1234", 11), handler.OutTradeNo("A12341", 1)},
		{handler.OutTradeNo("A1234", 101), handler.OutTradeNo("A12341", 1)},
		{handler.OutTradeNo("A1234", 100), handler.OutTradeNo("A1234", 10)},
	} {
		if pair[0] == pair[1] {
			t.Errorf("collision: %q", pair[0])
		}
	}
}

func validOutTradeNo(s string) bool {
	if len(s) < 5 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func ExampleOutTradeNo() {
	fmt.Println(handler.OutTradeNo("SO20240501", 1))
	fmt.Println(handler.OutTradeNo("SO20240501", 2))
	fmt.Println(len(handler.OutTradeNo("order/2024/05/01-0042", 1)))
	// Output:
	// SO2024050101
	// SO2024050102
	// 22
}
