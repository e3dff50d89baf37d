package handler_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
)

// TestStatusRoutes mounts Status as the README does, on two patterns,
// and reaches every lookup it serves: by out_trade_no in the path or the
// query, and by the business order (?order_id=), which the path pattern
// alone cannot serve.
func TestStatusRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("ROUTES1", mchA, 100)
	otn := e.MustPreOrder(t, model.V2, "ROUTES1", model.PayWeChat)
	st, err := handler.NewStatus(handler.StatusConfig{Store: e.Store, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /pay/orders/{out_trade_no}", st)
	mux.Handle("GET /pay/orders", st) // ?order_id= or ?out_trade_no=
	for _, tc := range []struct {
		path       string
		wantStatus int
	}{
		{"/pay/orders/" + otn, 200},
		{"/pay/orders?out_trade_no=" + otn, 200},
		{"/pay/orders?order_id=ROUTES1", 200},
		{"/pay/orders?order_id=NOSUCH1", 404},
		{"/pay/orders", 400},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.wantStatus {
			t.Errorf("GET %s: got %d, want %d", tc.path, rec.Code, tc.wantStatus)
			continue
		}
		if tc.wantStatus != 200 {
			continue
		}
		var v handler.OrderView
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		if v.OutTradeNo != otn || v.OrderID != "ROUTES1" {
			t.Errorf("GET %s: got %s of %s, want %s of ROUTES1", tc.path, v.OutTradeNo, v.OrderID, otn)
		}
	}
}
