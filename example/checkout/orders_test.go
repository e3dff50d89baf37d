package main

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBusinessOrdersSurviveRestart: an order created but not yet paid is
// still payable after the shop restarts on the same -db file; before, the
// shop kept its orders in memory and answered 404.
func TestBusinessOrdersSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	var order createOrderResponse
	t.Run("create", func(t *testing.T) {
		shop := startShop(t, cfg)
		if code := shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "beans", "quantity": 2}, &order); code != http.StatusCreated {
			t.Fatalf("POST /api/orders: got %d, want 201", code)
		}
	})
	shop := startShop(t, cfg)
	var pre preOrderReply
	if code := shop.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "WECHAT"}, &pre); code != http.StatusCreated {
		t.Fatalf("pre-order after restart: got %d, want 201", code)
	}
	if pre.Amount != 13600 {
		t.Errorf("amount: got %d, want 13600", pre.Amount)
	}
	shop.do(t, "POST", "/sim/pay/"+pre.OutTradeNo, nil, nil)
	shop.waitSettled(t, pre.OutTradeNo, order.StatusToken)
	var byOrder orderStatus
	if code := shop.do(t, "GET", "/pay/orders?order_id="+order.OrderID+"&token="+url.QueryEscape(order.StatusToken), nil, &byOrder); code != http.StatusOK || byOrder.OutTradeNo != pre.OutTradeNo {
		t.Errorf("GET /pay/orders?order_id=: got %d %+v, want 200 for %s", code, byOrder, pre.OutTradeNo)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

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

// TestOrderCreationBounded: the unauthenticated order API allows a burst,
// then answers 429 with Retry-After until the bucket refills; a refused
// request records nothing.
func TestOrderCreationBounded(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	cfg := testConfig(t, "-db", "memory")
	cfg.orderLimit = newLimiter(1, 3, clock.Now)
	shop := startShop(t, cfg)
	create := func() (int, createOrderResponse) {
		var o createOrderResponse
		return shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "latte", "quantity": 1}, &o), o
	}
	for i := 1; i <= 3; i++ {
		if code, _ := create(); code != http.StatusCreated {
			t.Fatalf("order %d of the burst: got %d, want 201", i, code)
		}
	}
	if code, o := create(); code != http.StatusTooManyRequests || o.OrderID != "" {
		t.Fatalf("order past the burst: got %d %+v, want 429 and no order", code, o)
	}
	res, err := http.Post(shop.URL+"/api/orders", "application/json", strings.NewReader(`{"product_id":"latte","quantity":1}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "2" {
		t.Errorf("got %d Retry-After %q, want 429 and 2", res.StatusCode, res.Header.Get("Retry-After"))
	}
	clock.Advance(time.Second)
	if code, _ := create(); code != http.StatusCreated {
		t.Errorf("after a second: got %d, want 201", code)
	}
	// Validation comes before the limit: a bad request never spends a token.
	for i := 0; i < 5; i++ {
		if code := shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "latte", "quantity": 500}, nil); code != http.StatusBadRequest {
			t.Fatalf("quantity 500: got %d, want 400", code)
		}
	}
}
