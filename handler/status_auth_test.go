package handler_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// jspayStore holds one PENDING JSPAY attempt with its pay_info.
func jspayStore(t testing.TB) *memstore.Store {
	t.Helper()
	st := memstore.New()
	now := time.Now()
	if err := st.Create(context.Background(), &store.Order{
		OutTradeNo: "JSAUTH0101", BusinessID: "JSAUTH01", Attempt: 1, MchID: mchA,
		Channel: model.PayWeChat, TradeType: model.TradeTypeJSPay, Version: model.V2, Amount: 800,
		Status: store.Pending, PayInfo: `{"paySign":"SECRETSIGN"}`, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

// statusGet serves target through a mux with the status routes.
func statusGet(t testing.TB, st *handler.Status, target, who string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /orders/{out_trade_no}", st)
	mux.Handle("GET /orders", st)
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if who != "" {
		r.Header.Set("X-Who", who)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

// TestStatusAuthorize: the hook decides; a denied caller gets the very
// reply an unknown order gets, and only the payer sees pay_info.
func TestStatusAuthorize(t *testing.T) {
	t.Parallel()
	st, err := handler.NewStatus(handler.StatusConfig{Store: jspayStore(t), Logger: quietLogger(),
		Authorize: func(r *http.Request, o *store.Order) handler.StatusAccess {
			switch r.Header.Get("X-Who") {
			case "payer-" + o.BusinessID:
				return handler.StatusPayer
			case "staff":
				return handler.StatusViewer
			}
			return handler.StatusDenied
		}})
	if err != nil {
		t.Fatal(err)
	}
	unknown := statusGet(t, st, "/orders/NOSUCH0101", "payer-JSAUTH01")
	if unknown.Code != http.StatusNotFound {
		t.Fatalf("unknown order: got %d, want 404", unknown.Code)
	}
	for _, tc := range []struct {
		name, target, who string
		want              int // 0: like an unknown order
		wantPayInfo       bool
	}{
		{"stranger by out_trade_no", "/orders/JSAUTH0101", "", 0, false},
		{"stranger by order_id", "/orders?order_id=JSAUTH01", "", 0, false},
		{"another buyer", "/orders/JSAUTH0101", "payer-OTHER", 0, false},
		{"viewer", "/orders/JSAUTH0101", "staff", http.StatusOK, false},
		{"payer", "/orders/JSAUTH0101", "payer-JSAUTH01", http.StatusOK, true},
		{"payer by order_id", "/orders?order_id=JSAUTH01", "payer-JSAUTH01", http.StatusOK, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := statusGet(t, st, tc.target, tc.who)
			if tc.want == 0 {
				if w.Code != unknown.Code || w.Body.String() != unknown.Body.String() {
					t.Errorf("got %d %s, want the unknown order's %d %s", w.Code, w.Body, unknown.Code, unknown.Body)
				}
				return
			}
			var v handler.OrderView
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || w.Code != tc.want {
				t.Fatalf("got %d %s (%v), want %d", w.Code, w.Body, err, tc.want)
			}
			if got := v.PayInfo != ""; got != tc.wantPayInfo {
				t.Errorf("pay_info shown: got %v, want %v", got, tc.wantPayInfo)
			}
		})
	}
}

// TestStatusWithoutAuthorizeHidesPayInfo: with no hook everyone is a
// viewer: the state, never pay_info.
func TestStatusWithoutAuthorizeHidesPayInfo(t *testing.T) {
	t.Parallel()
	st, err := handler.NewStatus(handler.StatusConfig{Store: jspayStore(t), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	w := statusGet(t, st, "/orders/JSAUTH0101", "")
	var v handler.OrderView
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || w.Code != http.StatusOK {
		t.Fatalf("got %d %s (%v), want 200", w.Code, w.Body, err)
	}
	if v.PayInfo != "" || v.Status != "PENDING" {
		t.Errorf("got status %s pay_info %q, want PENDING without pay_info", v.Status, v.PayInfo)
	}
}
