package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
)

// TestDemoPassesCheckEndpoint runs `cypay check-endpoint`'s battery
// against the demo shop's own notify route, on an attempt made through
// its API: every forgery refused, the genuine notification and its copy
// answered success, and the order then PAID and fulfilled. The cut-off
// for the slow body is wider than the command's default 3 s so that a
// loaded machine cannot fail the shop's 2 s deadline by a hair; the
// kit's own margin is proved in package gatewaytest.
func TestDemoPassesCheckEndpoint(t *testing.T) {
	t.Parallel()
	shop := startShop(t, testConfig(t))
	var order createOrderResponse
	if code := shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "beans", "quantity": 1}, &order); code != http.StatusCreated {
		t.Fatalf("POST /api/orders: %d", code)
	}
	var pre preOrderReply
	body := map[string]string{"order_id": order.OrderID, "channel": "WECHAT", "trade_type": "NATIVE"}
	if code := shop.do(t, "POST", payPath(order), body, &pre); code != http.StatusCreated {
		t.Fatalf("POST /pay/preorder: %d", code)
	}
	res, err := gatewaytest.CheckEndpoint(context.Background(), gatewaytest.EndpointCheck{
		URL: shop.URL + "/pay/notify", Key: demoMchKey, MchID: demoMchID,
		OutTradeNo: pre.OutTradeNo, TotalFee: pre.Amount,
		Cutoff: 5 * time.Second, SlowFor: 8 * time.Second, Oversize: 512 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Pass {
			t.Errorf("the demo fails %q: want %s, got %s", r.Name, r.Want, r.Got)
		}
	}
	st := shop.waitSettled(t, pre.OutTradeNo, order.StatusToken)
	if st.Status != "PAID" || !st.Fulfilled || st.Amount != order.Amount {
		t.Fatalf("after the battery: %+v, want PAID and fulfilled", st)
	}
}
