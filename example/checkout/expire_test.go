package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
)

// TestExpireReachesTheGateway: -expire sets every attempt's life, and the
// simulator receives it as time_start and time_expire; without the flag
// attempts live 2 hours.
func TestExpireReachesTheGateway(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{{nil, 2 * time.Hour}, {[]string{"-expire", "30m"}, 30 * time.Minute}} {
		s := startAdminShop(t, tc.args...)
		var order createOrderResponse
		if code := s.do(t, "POST", "/api/orders", map[string]any{"product_id": "latte", "quantity": 1}, &order); code != http.StatusCreated {
			t.Fatalf("POST /api/orders: got %d", code)
		}
		var pre preOrderReply
		if code := s.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "ALIPAY", "trade_type": "NATIVE"}, &pre); code != http.StatusCreated {
			t.Fatalf("POST /pay/preorder: got %d", code)
		}
		o, ok := s.app.sim.Order(pre.OutTradeNo)
		if !ok {
			t.Fatalf("the simulator has no order %s", pre.OutTradeNo)
		}
		start, err1 := model.ParseTime(o.TimeStart)
		end, err2 := model.ParseTime(o.TimeExpire)
		if err1 != nil || err2 != nil || end.Sub(start) < tc.want-time.Second || end.Sub(start) > tc.want {
			t.Errorf("%v: gateway got time_start %q time_expire %q, want %v apart", tc.args, o.TimeStart, o.TimeExpire, tc.want)
		}
	}
}
