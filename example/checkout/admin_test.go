package main

import (
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
)

const testAdminToken = "test-admin-token"

// adminShop is the shop served from an app the test can reach into (its
// simulator, for faults).
type adminShop struct {
	*testShop
	app *app
}

// startAdminShop builds the app directly, so that the test holds its
// simulator, and serves it on loopback until t ends.
func startAdminShop(t *testing.T, args ...string) *adminShop {
	t.Helper()
	cfg := testConfig(t, append([]string{"-db", "memory", "-admin-token", testAdminToken}, args...)...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	logs := &syncBuffer{}
	a, err := newApp(context.Background(), cfg, base, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.handler()}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		a.close()
		if t.Failed() {
			t.Logf("shop logs:\n%s", logs.String())
		}
	})
	return &adminShop{testShop: &testShop{URL: base, Stdout: &syncBuffer{}, Logs: logs}, app: a}
}

// admin sends an admin request with the given token (none when empty) and
// Idempotency-Key (none when empty); it returns the status, the reply's
// Content-Type and its JSON object.
func (s *adminShop) admin(t testing.TB, token, method, path string, body any, key string) (int, string, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, res.Header.Get("Content-Type"), out
}

// paidOrder buys a latte (1800 fen) and pays it at the simulator.
func (s *adminShop) paidOrder(t *testing.T) string {
	t.Helper()
	var order createOrderResponse
	if code := s.do(t, "POST", "/api/orders", map[string]any{"product_id": "latte", "quantity": 1}, &order); code != http.StatusCreated {
		t.Fatalf("POST /api/orders: got %d", code)
	}
	var pre preOrderReply
	if code := s.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "WECHAT", "trade_type": "NATIVE"}, &pre); code != http.StatusCreated {
		t.Fatalf("POST /pay/preorder: got %d", code)
	}
	if code := s.do(t, "POST", "/sim/pay/"+pre.OutTradeNo, nil, nil); code != http.StatusOK {
		t.Fatalf("POST /sim/pay: got %d", code)
	}
	s.waitSettled(t, pre.OutTradeNo, order.StatusToken)
	return pre.OutTradeNo
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// refunded reads "refunded" from GET /pay/orders/{out_trade_no}.
func (s *adminShop) refunded(t *testing.T, otn string) float64 {
	t.Helper()
	var st map[string]any
	o, err := s.app.store.Get(context.Background(), otn)
	if err != nil {
		t.Fatal(err)
	}
	token := s.app.tokens.mint(o.BusinessID)
	if code := s.do(t, "GET", "/pay/orders/"+otn+"?token="+url.QueryEscape(token), nil, &st); code != http.StatusOK {
		t.Fatalf("GET /pay/orders/%s: got %d", otn, code)
	}
	v, ok := st["refunded"].(float64)
	if !ok {
		t.Fatalf("GET /pay/orders/%s: no numeric \"refunded\" in %v", otn, st)
	}
	return v
}

// preview asks for the confirmation of refunding amount (fen as a
// number, or text as the page's field sends it) of otn; it returns the
// status and the reply.
func (s *adminShop) preview(t testing.TB, otn string, amount any) (int, map[string]any) {
	t.Helper()
	code, _, p := s.admin(t, testAdminToken, "POST", "/admin/refunds/preview", map[string]any{"out_trade_no": otn, "amount": amount}, "")
	return code, p
}

// confirmed previews a refund of amount fen of otn, fails t unless it is
// confirmable, and returns the confirmation.
func (s *adminShop) confirmed(t testing.TB, otn string, amount int64) string {
	t.Helper()
	code, p := s.preview(t, otn, amount)
	c, _ := p["confirm"].(string)
	if code != http.StatusOK || c == "" {
		t.Fatalf("preview of %d fen of %s: got %d %v, want 200 with a confirmation", amount, otn, code, p)
	}
	return c
}

// refund previews, then sends, a refund of amount fen of otn with key.
func (s *adminShop) refund(t testing.TB, otn string, amount int64, reason, key string) (int, string, map[string]any) {
	t.Helper()
	c := s.confirmed(t, otn, amount)
	return s.admin(t, testAdminToken, "POST", "/admin/refunds",
		map[string]any{"out_trade_no": otn, "amount": amount, "reason": reason, "confirm": c}, key)
}

func TestAdminRefund(t *testing.T) {
	s := startAdminShop(t)
	otn := s.paidOrder(t)
	if got := s.refunded(t, otn); got != 0 {
		t.Errorf("refunded before any refund: got %v, want 0", got)
	}
	// The preview says what the refund would do and sends nothing.
	code, p := s.preview(t, otn, "5.00")
	if code != http.StatusOK || p["amount"] != float64(500) || p["paid"] != float64(1800) || p["refundable"] != float64(1800) || p["reserved"] != float64(0) {
		t.Fatalf("preview of 5.00: got %d %v, want 500 of 1800 paid, 1800 refundable", code, p)
	}
	if got := s.app.sim.Refunds(otn); len(got) != 0 {
		t.Fatalf("gateway refunds after a preview: got %d, want 0", len(got))
	}
	code, ctype, r := s.admin(t, testAdminToken, "POST", "/admin/refunds",
		map[string]any{"out_trade_no": otn, "amount": "5.00", "reason": "spilt", "confirm": p["confirm"]}, "key-1")
	if code != http.StatusCreated || !strings.HasPrefix(ctype, "application/json") {
		t.Fatalf("POST /admin/refunds: got %d %s %v, want 201 JSON", code, ctype, r)
	}
	if got := strings.Join(keysOf(r), ","); got != "amount,out_refund_no,out_trade_no,status" {
		t.Errorf("reply members: got %s, want amount,out_refund_no,out_trade_no,status", got)
	}
	no, _ := r["out_refund_no"].(string)
	if r["out_trade_no"] != otn || r["amount"] != float64(500) || r["status"] != "SUCCESS" || no == "" {
		t.Fatalf("refund: got %v, want SUCCESS of 500 for %s", r, otn)
	}
	code, _, g := s.admin(t, testAdminToken, "GET", "/admin/refunds/"+no, nil, "")
	if code != http.StatusOK || g["out_refund_no"] != no || g["status"] != "SUCCESS" || g["amount"] != float64(500) {
		t.Errorf("GET /admin/refunds/%s: got %d %v", no, code, g)
	}
	if got := s.refunded(t, otn); got != 500 {
		t.Errorf("refunded: got %v, want 500", got)
	}
	// The same key again: the same refund, nothing new at the gateway.
	code, _, again := s.refund(t, otn, 500, "spilt", "key-1")
	if code != http.StatusCreated || again["out_refund_no"] != no {
		t.Errorf("same Idempotency-Key: got %d %v, want 201 and %s", code, again, no)
	}
	if got := s.app.sim.Refunds(otn); len(got) != 1 {
		t.Errorf("gateway refunds: got %d, want 1", len(got))
	}
	// What is left is what the preview now allows.
	if code, p := s.preview(t, otn, 1301); code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(p["detail"]), "¥13.00 (1300 fen) left") {
		t.Errorf("preview over the remainder: got %d %v, want 422 naming ¥13.00 left", code, p)
	}
	if code, _, g := s.admin(t, testAdminToken, "GET", "/admin/refunds/NOPE-01", nil, ""); code != http.StatusNotFound {
		t.Errorf("GET unknown refund: got %d %v, want 404", code, g)
	}
}

// TestAdminRefundUnknownOutcome: the gateway applies the refund but the
// reply is lost and so is the first query: 202, then polling finds it.
func TestAdminRefundUnknownOutcome(t *testing.T) {
	s := startAdminShop(t)
	otn := s.paidOrder(t)
	s.app.sim.SetFaults(otn, gatewaytest.Faults{RefundLostReplies: 1, RefundQueryLost: 1})
	code, _, r := s.refund(t, otn, 1800, "x", "")
	if code != http.StatusAccepted || r["status"] != "PENDING" {
		t.Fatalf("POST /admin/refunds with the reply lost: got %d %v, want 202 PENDING", code, r)
	}
	if got := s.app.sim.Refunds(otn); len(got) != 1 || got[0].OutRefundNo != r["out_refund_no"] {
		t.Fatalf("gateway refunds: got %+v, want one under %v", got, r["out_refund_no"])
	}
}

// TestAdminRefundBadInput: every refusal, at the preview and at the
// refund itself, is a problem, and nothing reaches the store or the
// gateway.
func TestAdminRefundBadInput(t *testing.T) {
	s := startAdminShop(t)
	otn := s.paidOrder(t)
	other := s.paidOrder(t)
	var order createOrderResponse
	s.do(t, "POST", "/api/orders", map[string]any{"product_id": "mug", "quantity": 1}, &order)
	var pre preOrderReply
	s.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "WECHAT", "trade_type": "NATIVE"}, &pre)
	if code, _, _ := s.refund(t, otn, 300, "", "used"); code != http.StatusCreated {
		t.Fatalf("first refund: got %d, want 201", code)
	}
	ok100 := s.confirmed(t, otn, 100)
	previews := []struct {
		name   string
		body   any
		want   int
		detail string
	}{
		{"zero amount", map[string]any{"out_trade_no": otn, "amount": 0}, http.StatusUnprocessableEntity, "more than 0"},
		{"zero yuan", map[string]any{"out_trade_no": otn, "amount": "0.00"}, http.StatusUnprocessableEntity, "more than 0"},
		{"negative amount", map[string]any{"out_trade_no": otn, "amount": -1}, http.StatusUnprocessableEntity, "more than 0"},
		{"over the remainder", map[string]any{"out_trade_no": otn, "amount": 1501}, http.StatusUnprocessableEntity, "¥15.01 (1501 fen) is more than the ¥15.00 (1500 fen) left"},
		{"over the remainder in yuan", map[string]any{"out_trade_no": otn, "amount": "15.01"}, http.StatusUnprocessableEntity, "¥15.00 (1500 fen) left"},
		{"one decimal", map[string]any{"out_trade_no": otn, "amount": "12.5"}, http.StatusBadRequest, "two decimals"},
		{"three decimals", map[string]any{"out_trade_no": otn, "amount": "1.005"}, http.StatusBadRequest, "two decimals"},
		{"comma", map[string]any{"out_trade_no": otn, "amount": "12,50"}, http.StatusBadRequest, "two decimals"},
		{"yuan sign", map[string]any{"out_trade_no": otn, "amount": "¥12.50"}, http.StatusBadRequest, "two decimals"},
		{"empty", map[string]any{"out_trade_no": otn, "amount": ""}, http.StatusBadRequest, "two decimals"},
		{"fraction as a number", map[string]any{"out_trade_no": otn, "amount": 12.5}, http.StatusBadRequest, "two decimals"},
		{"exponent", map[string]any{"out_trade_no": otn, "amount": json.Number("1e3")}, http.StatusBadRequest, "two decimals"},
		{"too many digits", map[string]any{"out_trade_no": otn, "amount": "99999999999999999999"}, http.StatusBadRequest, "two decimals"},
		{"unknown order", map[string]any{"out_trade_no": "NOSUCH0001", "amount": 1}, http.StatusNotFound, "no payment"},
		{"unpaid order", map[string]any{"out_trade_no": pre.OutTradeNo, "amount": 1}, http.StatusConflict, "PENDING, not PAID"},
		{"no out_trade_no", map[string]any{"amount": 1}, http.StatusBadRequest, "out_trade_no"},
	}
	for _, tc := range previews {
		t.Run("preview "+tc.name, func(t *testing.T) {
			code, ctype, p := s.admin(t, testAdminToken, "POST", "/admin/refunds/preview", tc.body, "")
			if code != tc.want || ctype != "application/problem+json" || p["status"] != float64(tc.want) || p["confirm"] != nil {
				t.Errorf("got %d %s %v, want a %d problem+json and no confirmation", code, ctype, p, tc.want)
			}
			if !strings.Contains(fmt.Sprint(p["detail"]), tc.detail) {
				t.Errorf("detail %q does not say %q", p["detail"], tc.detail)
			}
		})
	}
	refunds := []struct {
		name string
		body any
		key  string
		want int
	}{
		{"no confirmation", map[string]any{"out_trade_no": otn, "amount": 100}, "", http.StatusPreconditionRequired},
		{"confirmation of another amount", map[string]any{"out_trade_no": otn, "amount": 101, "confirm": ok100}, "", http.StatusPreconditionRequired},
		{"confirmation of another payment", map[string]any{"out_trade_no": other, "amount": 100, "confirm": ok100}, "", http.StatusPreconditionRequired},
		{"forged confirmation", map[string]any{"out_trade_no": otn, "amount": 100, "confirm": "9999999999.AAAA"}, "", http.StatusPreconditionRequired},
		{"bad amount", map[string]any{"out_trade_no": otn, "amount": "1.0", "confirm": ok100}, "", http.StatusBadRequest},
		{"key reused with another amount", map[string]any{"out_trade_no": otn, "amount": 100, "confirm": ok100}, "used", http.StatusUnprocessableEntity},
		{"no out_trade_no", map[string]any{"amount": 100, "confirm": ok100}, "", http.StatusBadRequest},
		{"unknown field", map[string]any{"out_trade_no": otn, "amount": 100, "confirm": ok100, "currency": "USD"}, "", http.StatusBadRequest},
		{"NUL in the reason", map[string]any{"out_trade_no": otn, "amount": 100, "confirm": ok100, "reason": "oops\u0000"}, "", http.StatusBadRequest},
		{"reason too long", map[string]any{"out_trade_no": otn, "amount": 100, "confirm": ok100, "reason": strings.Repeat("长", 100)}, "", http.StatusBadRequest},
	}
	for _, tc := range refunds {
		t.Run(tc.name, func(t *testing.T) {
			code, ctype, p := s.admin(t, testAdminToken, "POST", "/admin/refunds", tc.body, tc.key)
			if code != tc.want || ctype != "application/problem+json" || p["status"] != float64(tc.want) || p["title"] == nil {
				t.Errorf("got %d %s %v, want a %d problem+json", code, ctype, p, tc.want)
			}
		})
	}
	// A NUL reason failed on PostgreSQL and was stored on MariaDB: now it
	// is the same 400, naming the field, before any store sees it.
	if _, _, p := s.admin(t, testAdminToken, "POST", "/admin/refunds", map[string]any{"out_trade_no": otn, "amount": 100, "confirm": ok100, "reason": "\x00"}, ""); !strings.Contains(fmt.Sprint(p["detail"]), "reason") {
		t.Errorf("NUL reason: detail %q does not name the reason", p["detail"])
	}
	// A page of another site can post a form, but not JSON with the
	// token: the form is refused before anything else is looked at.
	req, _ := http.NewRequest("POST", s.URL+"/admin/refunds", strings.NewReader("out_trade_no="+otn+"&amount=100&confirm="+url.QueryEscape(ok100)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form-encoded refund: got %v %v, want 415", res, err)
	} else {
		res.Body.Close()
	}
	if got := s.app.sim.Refunds(otn); len(got) != 1 {
		t.Errorf("gateway refunds after bad input: got %d, want only the first", len(got))
	}
	if got := s.app.sim.Refunds(pre.OutTradeNo); len(got) != 0 {
		t.Errorf("gateway refunds of the unpaid order: got %d, want 0", len(got))
	}
	if got := s.app.sim.Refunds(other); len(got) != 0 {
		t.Errorf("gateway refunds of the other order: got %d, want 0", len(got))
	}
	list, err := s.app.refunder.List(context.Background(), otn)
	if err != nil || len(list) != 1 {
		t.Errorf("refunds recorded: got %d (%v), want only the first", len(list), err)
	}
	// The confirmation was good all along: with it, the refund goes out.
	code, _, r := s.admin(t, testAdminToken, "POST", "/admin/refunds", map[string]any{"out_trade_no": otn, "amount": 100, "confirm": ok100}, "")
	if code != http.StatusCreated || r["amount"] != float64(100) {
		t.Errorf("refund with its confirmation: got %d %v, want 201 of 100", code, r)
	}
}

// TestAdminRefundConfirmationExpires: a confirmation is good for
// confirmFor, not a second longer.
func TestAdminRefundConfirmationExpires(t *testing.T) {
	s := startAdminShop(t)
	otn := s.paidOrder(t)
	clock := time.Now()
	s.app.confirmer.now = func() time.Time { return clock }
	c := s.confirmed(t, otn, 200)
	clock = clock.Add(confirmFor + time.Second)
	code, _, p := s.admin(t, testAdminToken, "POST", "/admin/refunds", map[string]any{"out_trade_no": otn, "amount": 200, "confirm": c}, "")
	if code != http.StatusPreconditionRequired || !strings.Contains(fmt.Sprint(p["detail"]), "expired") {
		t.Errorf("expired confirmation: got %d %v, want 428 saying so", code, p)
	}
	if got := s.app.sim.Refunds(otn); len(got) != 0 {
		t.Errorf("gateway refunds: got %d, want 0", len(got))
	}
}

// forgetAll clears the table, so that a test can send more wrong tokens
// than the bound allows from one address.
func (f *authFailures) forgetAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clients = map[string]*list.Element{}
	f.order.Init()
}

// TestAdminNeedsToken: every admin route answers 401 without the right
// token, and a refund with a good confirmation but the wrong token sends
// nothing.
func TestAdminNeedsToken(t *testing.T) {
	s := startAdminShop(t)
	otn := s.paidOrder(t)
	confirm := s.confirmed(t, otn, 100)
	for _, tc := range []struct{ method, path string }{
		{"POST", "/admin/refunds"}, {"POST", "/admin/refunds/preview"}, {"GET", "/admin/refunds/X-01"}, {"GET", "/admin/orders"},
		{"GET", "/admin/attempts/" + otn}, {"GET", "/admin/alerts"}, {"GET", "/admin/health"},
		{"GET", "/admin/inbox"}, {"GET", "/admin/inbox/1"}, {"GET", "/admin/attempts/" + otn + "/events"},
	} {
		for _, token := range []string{"", "wrong", testAdminToken + "x"} {
			var body any
			if tc.method == "POST" {
				body = map[string]any{"out_trade_no": otn, "amount": 100, "confirm": confirm}
			}
			code, ctype, _ := s.admin(t, token, tc.method, tc.path, body, "")
			if code != http.StatusUnauthorized || ctype != "application/problem+json" {
				t.Errorf("%s %s with token %q: got %d %s, want 401 problem+json", tc.method, tc.path, token, code, ctype)
			}
		}
		s.app.authFailures.forgetAll()
	}
	if got := s.app.sim.Refunds(otn); len(got) != 0 {
		t.Errorf("gateway refunds after wrong tokens: got %d, want 0", len(got))
	}
	if code, _, orders := s.admin(t, testAdminToken, "GET", "/admin/health", nil, ""); code != http.StatusOK {
		t.Errorf("GET /admin/health with the token: got %d %v, want 200", code, orders)
	}
}

// TestAdminTokenDrawnOnce: without -admin-token the shop draws one,
// prints it once, and it works.
func TestAdminTokenDrawnOnce(t *testing.T) {
	shop := startShop(t, testConfig(t, "-db", "memory"))
	out := shop.Stdout.String()
	const label = "admin token (drawn for this run; set -admin-token or CYPAY_ADMIN_TOKEN to fix it): "
	i := strings.Index(out, label)
	if i < 0 || strings.Count(out, label) != 1 {
		t.Fatalf("banner: want the drawn token printed once:\n%s", out)
	}
	token := strings.Fields(out[i+len(label):])[0]
	if len(token) < 32 {
		t.Fatalf("drawn token %q: want 32 hex digits", token)
	}
	req, _ := http.NewRequest("GET", shop.URL+"/admin/orders", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /admin/orders with the drawn token: got %d, want 200", res.StatusCode)
	}
	set := startShop(t, testConfig(t, "-db", "memory", "-admin-token", "fixed-token-0123456789"))
	if strings.Contains(set.Stdout.String(), "fixed-token-0123456789") || strings.Contains(set.Stdout.String(), "admin token (") {
		t.Errorf("banner shows a configured token:\n%s", set.Stdout.String())
	}
}

// TestAdminGuessingLimited: after maxAuthFailures wrong tokens a client is
// answered 429 with Retry-After, even with the right token, until the
// window has passed; another client is not.
func TestAdminGuessingLimited(t *testing.T) {
	s := startAdminShop(t)
	for i := range maxAuthFailures {
		if code, _, _ := s.admin(t, "wrong-token-guess-"+strconv.Itoa(i), "GET", "/admin/orders", nil, ""); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: got %d, want 401", i, code)
		}
	}
	req, _ := http.NewRequest("GET", s.URL+"/admin/orders", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Content-Type") != "application/problem+json" ||
		secs < 1 || secs > int(authWindow/time.Second) {
		t.Errorf("after %d wrong tokens: got %d %s Retry-After %q, want 429 problem+json with 1-%d s",
			maxAuthFailures, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Retry-After"), int(authWindow/time.Second))
	}
}

func TestAuthFailures(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { return clock }
	from := func(addr string) *http.Request {
		r, _ := http.NewRequest("GET", "/admin/orders", nil)
		r.RemoteAddr = addr
		return r
	}
	f := newAuthFailures(now, 3)
	a := from("192.0.2.1:5000")
	for i := range maxAuthFailures {
		if blocked, _ := f.blocked(a); blocked {
			t.Fatalf("blocked after %d failures, want %d", i, maxAuthFailures)
		}
		f.fail(from("192.0.2.1:" + strconv.Itoa(6000+i))) // any source port: one client
	}
	if blocked, left := f.blocked(a); !blocked || left != authWindow {
		t.Errorf("after %d failures: got blocked %v for %v, want %v", maxAuthFailures, blocked, left, authWindow)
	}
	if blocked, _ := f.blocked(from("192.0.2.2:5000")); blocked {
		t.Error("another client is blocked")
	}
	// One IPv6 /64 is one client.
	for i := range maxAuthFailures {
		f.fail(from("[2001:db8::" + strconv.Itoa(i+1) + "]:443"))
	}
	if blocked, _ := f.blocked(from("[2001:db8::ffff]:443")); !blocked {
		t.Error("an IPv6 /64 that failed from many addresses is not blocked")
	}
	clock = clock.Add(authWindow)
	if blocked, _ := f.blocked(a); blocked {
		t.Error("still blocked after the window")
	}
	// The table keeps at most 3 clients: the one that failed longest ago
	// is forgotten.
	g := newAuthFailures(now, 3)
	for _, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"} {
		for range maxAuthFailures {
			g.fail(from(ip + ":1"))
		}
	}
	if len(g.clients) != 3 || g.order.Len() != 3 {
		t.Errorf("table: got %d clients (%d in order), want 3", len(g.clients), g.order.Len())
	}
	if blocked, _ := g.blocked(from("198.51.100.1:1")); blocked {
		t.Error("the oldest client was not the one evicted")
	}
	if blocked, _ := g.blocked(from("198.51.100.4:1")); !blocked {
		t.Error("the newest client was evicted")
	}
}
