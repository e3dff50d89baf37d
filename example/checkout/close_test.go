package main

import (
	"net/http"
	"net/url"
	"testing"
)

// closeReply is POST /pay/orders/{out_trade_no}/close.
type closeReply struct {
	OutTradeNo string `json:"out_trade_no"`
	Outcome    string `json:"outcome"`
	Status     string `json:"status"`
}

// TestAbandonClosesTheAttempt: the Abandon button's route closes the
// attempt for the holder of the order's token (inside the gateway's
// cancel window: CLOSED there and here); a stranger — no token, or
// another order's — gets 404 and changes nothing; and a new payment of
// the same order is a new out_trade_no.
func TestAbandonClosesTheAttempt(t *testing.T) {
	shop := startShop(t, testConfig(t))
	var order, other createOrderResponse
	for _, o := range []*createOrderResponse{&order, &other} {
		if code := shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "beans", "quantity": 1}, o); code != http.StatusCreated {
			t.Fatalf("POST /api/orders: got %d, want 201", code)
		}
	}
	body := map[string]string{"order_id": order.OrderID, "channel": "WECHAT", "trade_type": "NATIVE"}
	var pre preOrderReply
	if code := shop.do(t, "POST", payPath(order), body, &pre); code != http.StatusCreated {
		t.Fatalf("POST /pay/preorder: got %d, want 201", code)
	}
	closePath := "/pay/orders/" + pre.OutTradeNo + "/close"
	for _, token := range []string{"", other.StatusToken, "forged"} {
		if code := shop.do(t, "POST", closePath+"?token="+url.QueryEscape(token), nil, nil); code != http.StatusNotFound {
			t.Errorf("close with token %q: got %d, want 404", token, code)
		}
	}
	var st orderStatus
	if code := shop.do(t, "GET", "/pay/orders/"+pre.OutTradeNo+"?token="+url.QueryEscape(order.StatusToken), nil, &st); code != http.StatusOK || st.Status != "PENDING" {
		t.Fatalf("after the strangers: got %d %+v, want PENDING", code, st)
	}
	var res closeReply
	if code := shop.do(t, "POST", closePath+"?token="+url.QueryEscape(order.StatusToken), nil, &res); code != http.StatusOK ||
		res.Outcome != "CLOSED" || res.Status != "CLOSED" {
		t.Fatalf("the buyer's close: got %d %+v, want 200 CLOSED", code, res)
	}
	if code := shop.do(t, "POST", "/sim/pay/"+pre.OutTradeNo, nil, nil); code == http.StatusOK {
		t.Errorf("paying the closed attempt at the simulator: got 200, want refused")
	}
	var again preOrderReply
	if code := shop.do(t, "POST", payPath(order), body, &again); code != http.StatusCreated || again.OutTradeNo == pre.OutTradeNo {
		t.Errorf("a new payment of the same order: got %d %s, want 201 with a new out_trade_no (not %s)", code, again.OutTradeNo, pre.OutTradeNo)
	}
}
