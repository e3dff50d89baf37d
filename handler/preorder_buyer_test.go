package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
)

// goPrefix matches a Go package prefix of the kit's or the standard
// library's error messages ("handler: ", "client: ", "json: ").
var goPrefix = regexp.MustCompile(`(^|[^a-z_])(handler|client|model|store|memstore|sign|json|strconv|gatewaytest):`)

// TestBuyerFacingDetails: every problem the pre-order proxy shows a buyer
// reads as a sentence for them: no Go package prefixes, and nothing about
// the shop's key configuration (which only the shop can fix).
func TestBuyerFacingDetails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("BUYGONE1", mchGone, 100)
	e.AddOrder("BUYJSPAY1", mchA, 100)
	e.AddOrder("BUYNOKEY1", "M100077", 100) // no key in the keyring
	resolve := func(ctx context.Context, id string) (handler.Purchase, error) {
		switch id {
		case "BUYSOLD1":
			return handler.Purchase{}, fmt.Errorf("%w: sold out", handler.ErrOrderNotPayable)
		case "BUYBAD1":
			return handler.Purchase{}, fmt.Errorf("order %s: %w", id, handler.ErrOrderInvalid)
		}
		return e.Resolve(ctx, id)
	}
	po, err := handler.NewPreOrder(handler.PreOrderConfig{
		Store: e.Store, Client: e.Clients[model.V2], Resolve: resolve, Authorize: handler.AllowAnyone,
		NotifyURL: "https://shop.example/notify", Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantDetail string // a substring
		notDetail  string // must not appear
	}{
		{"unknown order", `{"order_id":"BUYNONE1","channel":"WECHAT"}`, 404, `order "BUYNONE1": order not found`, ""},
		{"not payable", `{"order_id":"BUYSOLD1","channel":"WECHAT"}`, 409, "order not payable: sold out", ""},
		{"invalid", `{"order_id":"BUYBAD1","channel":"WECHAT"}`, 422, "order BUYBAD1: order invalid", ""},
		{"merchant without a key", `{"order_id":"BUYNOKEY1","channel":"WECHAT"}`, 500, "cannot take this payment", "M100077"},
		{"gateway refuses", `{"order_id":"BUYGONE1","channel":"WECHAT"}`, 502, "gateway refused", ""},
		{"field the gateway needs", `{"order_id":"BUYJSPAY1","channel":"WECHAT","trade_type":"JSPAY"}`, 422, "sub_appid", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/pay/preorder", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			po.ServeHTTP(rec, req)
			var p struct{ Detail string }
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("%v in %q", err, rec.Body)
			}
			if rec.Code != tc.wantStatus {
				t.Errorf("status: got %d, want %d (detail %q)", rec.Code, tc.wantStatus, p.Detail)
			}
			if m := goPrefix.FindString(p.Detail); m != "" {
				t.Errorf("detail %q carries the Go package prefix %q", p.Detail, m)
			}
			if !strings.Contains(p.Detail, tc.wantDetail) {
				t.Errorf("detail: got %q, want it to say %q", p.Detail, tc.wantDetail)
			}
			if tc.notDetail != "" && strings.Contains(p.Detail, tc.notDetail) {
				t.Errorf("detail %q shows the buyer %q", p.Detail, tc.notDetail)
			}
			if strings.Contains(strings.ToLower(p.Detail), "unknown merchant") {
				t.Errorf("detail %q shows the buyer a configuration error", p.Detail)
			}
		})
	}
}
