package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/store"
)

// adminGet reads an admin route with the admin token into out and
// returns the status.
func (s *adminShop) adminGet(t testing.TB, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return res.StatusCode
}

// openOrder creates an order of a mug and its PENDING attempt.
func (s *adminShop) openOrder(t *testing.T) (orderID, outTradeNo string) {
	t.Helper()
	var order createOrderResponse
	if code := s.do(t, "POST", "/api/orders", map[string]any{"product_id": "mug", "quantity": 1}, &order); code != http.StatusCreated {
		t.Fatalf("POST /api/orders: got %d", code)
	}
	var pre preOrderReply
	if code := s.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "ALIPAY", "trade_type": "NATIVE"}, &pre); code != http.StatusCreated {
		t.Fatalf("POST /pay/preorder: got %d", code)
	}
	return order.OrderID, pre.OutTradeNo
}

// TestAdminOrdersKitStatus: the order list speaks the kit's status names
// (an order waiting for its payment is PENDING, never UNPAID), lists each
// order's attempts, and says what is left to refund.
func TestAdminOrdersKitStatus(t *testing.T) {
	s := startAdminShop(t)
	paid := s.paidOrder(t)
	openID, open := s.openOrder(t)
	var bare createOrderResponse
	s.do(t, "POST", "/api/orders", map[string]any{"product_id": "croissant", "quantity": 2}, &bare)
	if code, _, _ := s.refund(t, paid, 700, "", ""); code != http.StatusCreated {
		t.Fatalf("refund: got %d", code)
	}
	// A refund whose outcome is unknown is not refunded yet, but its
	// amount can no longer be refunded.
	inFlight := s.paidOrder(t)
	s.app.sim.SetFaults(inFlight, gatewaytest.Faults{RefundLostReplies: 1, RefundQueryLost: 1})
	if code, _, r := s.refund(t, inFlight, 300, "", ""); code != http.StatusAccepted {
		t.Fatalf("refund with its reply lost: got %d %v, want 202", code, r)
	}
	var rows []adminOrder
	if code := s.adminGet(t, "/admin/orders", &rows); code != http.StatusOK {
		t.Fatalf("GET /admin/orders: got %d", code)
	}
	byID := map[string]adminOrder{}
	for _, r := range rows {
		byID[r.OrderID] = r
	}
	p, _ := s.app.store.Get(context.Background(), paid)
	if r := byID[p.BusinessID]; r.Status != "PAID" || r.OutTradeNo != paid || r.Refunded != 700 || r.Refundable != 1100 ||
		len(r.Attempts) != 1 || r.Attempts[0].Status != "PAID" || r.Attempts[0].Channel != "WECHAT" {
		t.Errorf("paid order: got %+v, want PAID, 700 refunded, 1100 refundable, one WECHAT attempt", r)
	}
	f, _ := s.app.store.Get(context.Background(), inFlight)
	if r := byID[f.BusinessID]; r.Status != "PAID" || r.Refunded != 0 || r.Refundable != 1500 || len(r.Refunds) != 1 || r.Refunds[0].Status != "PENDING" {
		t.Errorf("order with a refund in flight: got %+v, want PAID, 0 refunded, 1500 refundable, the PENDING refund", r)
	}
	if r := byID[openID]; r.Status != "PENDING" || r.OutTradeNo != open || r.Refundable != 0 ||
		len(r.Attempts) != 1 || r.Attempts[0].Status != "PENDING" || r.Attempts[0].Amount != 4500 {
		t.Errorf("open order: got %+v, want PENDING with its one attempt of 4500", r)
	}
	if r := byID[bare.OrderID]; r.Status != "" || len(r.Attempts) != 0 || r.Attempts == nil {
		t.Errorf("order without an attempt: got %+v, want no status and an empty attempt list", r)
	}
}

// TestAdminAttempt: the back office reads any attempt with the admin
// token alone (no buyer's token), as the status handler shows it.
func TestAdminAttempt(t *testing.T) {
	s := startAdminShop(t)
	paid := s.paidOrder(t)
	var v map[string]any
	if code := s.adminGet(t, "/admin/attempts/"+paid, &v); code != http.StatusOK {
		t.Fatalf("GET /admin/attempts/%s: got %d", paid, code)
	}
	if v["out_trade_no"] != paid || v["status"] != "PAID" || v["amount"] != float64(1800) || v["transaction_id"] == nil || v["refunded"] != float64(0) {
		t.Errorf("attempt: got %v, want PAID 1800 with its transaction and refunded 0", v)
	}
	if code := s.adminGet(t, "/admin/attempts/NOSUCH0001", &v); code != http.StatusNotFound {
		t.Errorf("unknown attempt: got %d, want 404", code)
	}
}

// TestAdminAlerts: an alert the kit raises (here a payment of an
// attempt the shop had closed) shows on the back office.
func TestAdminAlerts(t *testing.T) {
	s := startAdminShop(t)
	var list []alertEntry
	if code := s.adminGet(t, "/admin/alerts", &list); code != http.StatusOK || len(list) != 0 {
		t.Fatalf("alerts at start: got %d %v, want 200 and none", code, list)
	}
	_, otn := s.openOrder(t)
	if err := s.app.store.Finish(context.Background(), otn, store.Closed, "closed by the test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if code := s.do(t, "POST", "/sim/pay/"+otn, nil, nil); code != http.StatusOK {
		t.Fatalf("POST /sim/pay: got %d", code)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		s.adminGet(t, "/admin/alerts", &list)
		if len(list) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no alert within 15 s of a payment of a closed attempt")
		}
		sleepBriefly()
	}
	if a := list[0]; a.Kind != "paid_after_close" || a.OutTradeNo != otn || a.Status != "CLOSED" || a.Source != "notify" || a.At.IsZero() {
		t.Errorf("alert: got %+v, want paid_after_close of CLOSED %s from notify, with its time", a, otn)
	}
}

// TestAdminHealth: the reconciler's last pass and the backlog of PENDING
// attempts.
func TestAdminHealth(t *testing.T) {
	t.Parallel()
	s := startAdminShop(t)
	s.openOrder(t)
	s.openOrder(t)
	var h struct {
		Ready      bool
		Store      struct{ OK bool }
		Reconciler *struct {
			LastPass *time.Time `json:"last_pass"`
		}
		Pending *int64
	}
	if code := s.adminGet(t, "/admin/health", &h); code != http.StatusOK {
		t.Fatalf("GET /admin/health: got %d", code)
	}
	if !h.Store.OK || h.Reconciler == nil || h.Reconciler.LastPass != nil || h.Pending == nil || *h.Pending != 2 {
		t.Errorf("before any pass: got %+v, want the store OK, no last pass, 2 PENDING", h)
	}
	if err := s.app.reconciler.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Readiness is cached for a second; the back office reads it afresh
	// after that.
	for deadline := time.Now().Add(15 * time.Second); ; {
		s.adminGet(t, "/admin/health", &h)
		if h.Reconciler != nil && h.Reconciler.LastPass != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no last pass shown within 15 s of a pass: %+v", h)
		}
		sleepBriefly()
	}
	if !h.Ready {
		t.Errorf("after a pass: got %+v, want ready", h)
	}
}
