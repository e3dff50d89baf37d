package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// scrape returns GET /metrics: status, content type and body.
func scrape(t *testing.T, shop *testShop) (int, string, string) {
	t.Helper()
	res, err := http.Get(shop.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), string(body)
}

// has reports whether a metrics body has line (from its start).
func has(body, line string) bool { return strings.Contains(body, "\n"+line) }

// scrapeUntil scrapes GET /metrics until done accepts the body, for at
// most 30 s, and returns the last body.
func scrapeUntil(t *testing.T, shop *testShop, done func(body string) bool) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, ctype, body := scrape(t, shop)
		if code != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
			t.Fatalf("GET /metrics: got %d %q, want 200 text/plain", code, ctype)
		}
		if done(body) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /metrics after 30 s does not show the payment:\n%s", body)
		}
		sleepBriefly()
	}
}

// TestMetricsFlag proves -metrics serves Prometheus text at GET /metrics
// on the shop's own address, and that a payment shows in the counters.
func TestMetricsFlag(t *testing.T) {
	shop := startShop(t, testConfig(t, "-metrics"))
	var order createOrderResponse
	if code := shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "beans", "quantity": 1}, &order); code != http.StatusCreated {
		t.Fatalf("POST /api/orders: got %d, want 201", code)
	}
	var pre preOrderReply
	if code := shop.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "WECHAT"}, &pre); code != http.StatusCreated {
		t.Fatalf("POST /pay/preorder: got %d, want 201", code)
	}
	if code := shop.do(t, "POST", "/sim/pay/"+pre.OutTradeNo, nil, nil); code != http.StatusOK {
		t.Fatalf("POST /sim/pay: got %d, want 200", code)
	}
	shop.waitSettled(t, pre.OutTradeNo, order.StatusToken)

	// PAID in the store comes before the notification's event (Notify
	// counts it as it replies), and on a loaded machine the reconciler
	// may settle the order first (source "query", the notification then
	// a duplicate). So wait, bounded, for the counters to show the
	// payment settled once, fulfilled once and the notification counted.
	body := scrapeUntil(t, shop, func(body string) bool {
		settled := has(body, `cypaykit_notifications_total{outcome="settled",source="notify"} 1`) ||
			has(body, `cypaykit_notifications_total{outcome="settled",source="query"} 1`)
		return settled && has(body, `cypaykit_notification_duration_seconds_count 1`) &&
			has(body, `cypaykit_fulfilments_total{result="ok"} 1`)
	})
	for _, line := range []string{
		`cypaykit_gateway_requests_total{op="preorder",result="ok"} 1`,
		`cypaykit_fulfilments_total{result="ok"} 1`,
		`cypaykit_alerts_total{kind="amount_mismatch"} 0`,
		`cypaykit_pending_attempts 0`,
		`go_goroutines `,
	} {
		if !has(body, line) {
			t.Errorf("GET /metrics lacks %q", line)
		}
	}
	if strings.Contains(body, pre.OutTradeNo) || strings.Contains(body, order.OrderID) {
		t.Error("GET /metrics names an order")
	}
	if !strings.Contains(shop.Stdout.String(), "/metrics") {
		t.Error("the banner does not say where the metrics are")
	}
}

// TestNoMetricsByDefault proves the shop serves no /metrics without the
// flag.
func TestNoMetricsByDefault(t *testing.T) {
	shop := startShop(t, testConfig(t))
	if code, _, _ := scrape(t, shop); code != http.StatusNotFound {
		t.Errorf("GET /metrics without -metrics: got %d, want 404", code)
	}
}

// TestMetricsConfig proves -metrics and $CYPAY_METRICS, the flag winning,
// and a clear error for a value that is not a boolean.
func TestMetricsConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want bool
		bad  bool
	}{
		{nil, "", false, false},
		{[]string{"-metrics"}, "", true, false},
		{nil, "true", true, false},
		{nil, "1", true, false},
		{[]string{"-metrics=false"}, "true", false, false},
		{nil, "yes please", false, true},
	} {
		env := func(k string) string {
			if k == "CYPAY_METRICS" {
				return tc.env
			}
			return ""
		}
		cfg, err := parseConfig(tc.args, env, io.Discard)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "CYPAY_METRICS") {
				t.Errorf("%v $CYPAY_METRICS=%q: got error %v, want one naming CYPAY_METRICS", tc.args, tc.env, err)
			}
			continue
		}
		if err != nil || cfg.Metrics != tc.want {
			t.Errorf("%v $CYPAY_METRICS=%q: got %v (err %v), want %v", tc.args, tc.env, cfg.Metrics, err, tc.want)
		}
	}
}

// TestMetricsCountRefunds proves the shop's refunder is instrumented: a
// refund from the back office shows in the refund counters and the
// refunded amount.
func TestMetricsCountRefunds(t *testing.T) {
	s := startAdminShop(t, "-metrics")
	otn := s.paidOrder(t)
	// Confirmed while the whole amount was left; the Refunder refuses it
	// once the first refund took part of it.
	whole := s.confirmed(t, otn, 1800)
	code, _, r := s.refund(t, otn, 500, "metrics", "")
	if code != http.StatusCreated || r["status"] != "SUCCESS" {
		t.Fatalf("POST /admin/refunds: got %d %v, want 201 SUCCESS", code, r)
	}
	if code, _, p := s.admin(t, testAdminToken, "POST", "/admin/refunds",
		map[string]any{"out_trade_no": otn, "amount": 1800, "confirm": whole}, ""); code != http.StatusUnprocessableEntity ||
		!strings.Contains(fmt.Sprint(p["detail"]), "¥13.00 (1300 fen) left to refund") {
		t.Fatalf("refund over what is left since its preview: got %d %v, want 422 naming the ¥13.00 left", code, p)
	}
	code, _, body := scrape(t, s.testShop)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: got %d, want 200", code)
	}
	for _, line := range []string{
		`cypaykit_refunds_total{result="requested"} 1`,
		`cypaykit_refunds_total{result="succeeded"} 1`,
		`cypaykit_refunds_total{result="refused"} 1`,
		`cypaykit_refunds_total{result="change"} 0`,
		`cypaykit_refunded_fen_total 500`,
		`cypaykit_alerts_total{kind="refund_change"} 0`,
		`cypaykit_gateway_requests_total{op="refund",result="ok"} 1`,
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("GET /metrics lacks %q", line)
		}
	}
	if strings.Contains(body, otn) {
		t.Error("GET /metrics names an order")
	}
}
