package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// getRaw is GET path on shop: the status code and the body.
func getRaw(t testing.TB, shop *testShop, path string) (int, string) {
	t.Helper()
	res, err := http.Get(shop.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// newAttempt creates an order and its NATIVE pre-order on shop.
func newAttempt(t testing.TB, shop *testShop) (createOrderResponse, preOrderReply) {
	t.Helper()
	var order createOrderResponse
	if code := shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "latte", "quantity": 1}, &order); code != http.StatusCreated {
		t.Fatalf("POST /api/orders: got %d, want 201", code)
	}
	var pre preOrderReply
	if code := shop.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "WECHAT", "trade_type": "NATIVE"}, &pre); code != http.StatusCreated {
		t.Fatalf("POST /pay/preorder: got %d, want 201", code)
	}
	return order, pre
}

// TestStatusNeedsToken: the status route answers only the holder of the
// order's token; everyone else gets exactly the unknown order's 404.
func TestStatusNeedsToken(t *testing.T) {
	shop := startShop(t, testConfig(t))
	order, pre := newAttempt(t, shop)
	other, _ := newAttempt(t, shop)
	if order.StatusToken == "" {
		t.Fatal("POST /api/orders gave no status_token")
	}
	unknownCode, unknownBody := getRaw(t, shop, "/pay/orders/NOSUCH0101?token="+order.StatusToken)
	if unknownCode != http.StatusNotFound {
		t.Fatalf("unknown order: got %d, want 404", unknownCode)
	}
	for _, tc := range []struct{ name, query string }{
		{"no token", ""},
		{"empty token", "?token="},
		{"wrong token", "?token=AAAAAAAAAAAAAAAAAAAAAA"},
		{"another order's token", "?token=" + other.StatusToken},
		{"token in another parameter", "?t=" + order.StatusToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := getRaw(t, shop, "/pay/orders/"+pre.OutTradeNo+tc.query)
			if code != unknownCode || body != unknownBody {
				t.Errorf("got %d %s, want the unknown order's %d %s", code, body, unknownCode, unknownBody)
			}
		})
	}
	var st orderStatus
	if code := shop.do(t, "GET", "/pay/orders/"+pre.OutTradeNo+"?token="+order.StatusToken, nil, &st); code != http.StatusOK || st.OutTradeNo != pre.OutTradeNo {
		t.Errorf("with the token: got %d %+v, want 200 for %s", code, st, pre.OutTradeNo)
	}
}

// TestStatusTokenAcrossInstances: a token minted by one instance verifies
// on another configured alike (same database, same keys), and not on one
// with another -status-secret.
func TestStatusTokenAcrossInstances(t *testing.T) {
	cfg := testConfig(t)
	a := startShop(t, cfg)
	b := startShop(t, cfg)
	cfgC := cfg
	cfgC.StatusSecret = "another-secret-0123456789"
	c := startShop(t, cfgC)
	order, pre := newAttempt(t, a)
	path := "/pay/orders/" + pre.OutTradeNo + "?token=" + order.StatusToken
	if code, body := getRaw(t, b, path); code != http.StatusOK {
		t.Errorf("instance B: got %d %s, want 200", code, body)
	}
	if code, _ := getRaw(t, c, path); code != http.StatusNotFound {
		t.Errorf("instance with another secret: got %d, want 404", code)
	}
}

// TestPreOrderNeedsToken: only the holder of the order's token may start
// its payment. A stranger who knows the order id — with no token, another
// order's, or one in the wrong place — is refused 403 and starts nothing,
// however many buyer_ids they try; no pre-order reply, refused or not,
// hands out a token; and the buyer then pays as if nothing had happened.
func TestPreOrderNeedsToken(t *testing.T) {
	shop := startShop(t, testConfig(t, "-db", "memory"))
	var order, other createOrderResponse
	for _, o := range []*createOrderResponse{&order, &other} {
		if code := shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "latte", "quantity": 1}, o); code != http.StatusCreated {
			t.Fatalf("POST /api/orders: got %d, want 201", code)
		}
	}
	for _, tc := range []struct{ name, query string }{
		{"no token", ""},
		{"empty token", "?token="},
		{"wrong token", "?token=AAAAAAAAAAAAAAAAAAAAAA"},
		{"another order's token", "?token=" + url.QueryEscape(other.StatusToken)},
		{"token in another parameter", "?t=" + url.QueryEscape(order.StatusToken)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 20 {
				var reply map[string]any
				body := map[string]string{"order_id": order.OrderID, "channel": "WECHAT", "trade_type": "JSPAY",
					"sub_appid": "wx0123456789", "buyer_id": fmt.Sprintf("oStranger%02d", i)}
				if code := shop.do(t, "POST", "/pay/preorder"+tc.query, body, &reply); code != http.StatusForbidden {
					t.Fatalf("stranger %d: got %d %v, want 403", i, code, reply)
				}
				if _, ok := reply["status_token"]; ok {
					t.Fatalf("a refused pre-order handed out a status_token: %v", reply)
				}
			}
		})
	}
	var st orderStatus
	if code := shop.do(t, "GET", "/pay/orders?order_id="+order.OrderID+"&token="+url.QueryEscape(order.StatusToken), nil, &st); code != http.StatusNotFound {
		t.Errorf("after the strangers: got %d %+v, want 404 (no attempt)", code, st)
	}
	var reply map[string]any
	if code := shop.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "WECHAT"}, &reply); code != http.StatusCreated {
		t.Fatalf("the buyer: got %d %v, want 201", code, reply)
	}
	if _, ok := reply["status_token"]; ok || reply["code_url"] == "" {
		t.Errorf("the buyer's pre-order reply: got %v, want a code_url and no status_token", reply)
	}
}
