package handler_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/store"
)

// TestPreOrderOnPathRewrites: a pre-order "success" whose sign a party on
// the path stripped, replaced or kept over changed fields never shows the
// buyer a code_url or pay_info: the answer is a 502 problem and the
// attempt stays PENDING, with no checkout recorded, for the reconciler.
func TestPreOrderOnPathRewrites(t *testing.T) {
	t.Parallel()
	const evilURL = "weixin://wxpay/bizpayurl?pr=evil"
	const evilPayInfo = `{"appId":"wxevil","package":"prepay_id=evil"}`
	rewrites := map[string][]gatewaytest.Rewrite{
		"sign stripped":            {gatewaytest.StripSign()},
		"wrong key":                {gatewaytest.Resign("", wrongKey)},
		"code_url re-cut":          {gatewaytest.Set("code_url", evilURL)},
		"pay_info re-cut":          {gatewaytest.Set("pay_info", evilPayInfo)},
		"evil code_url, unsigned":  {gatewaytest.Set("code_url", evilURL), gatewaytest.StripSign()},
		"evil pay_info, wrong key": {gatewaytest.Set("pay_info", evilPayInfo), gatewaytest.Resign("", wrongKey)},
		"unsigned NEED_QUERY":      {gatewaytest.Set("trade_state", "NEED_QUERY"), gatewaytest.StripSign()},
	}
	bodies := map[string]map[string]any{
		"NATIVE": {"channel": "WECHAT", "trade_type": "NATIVE"},
		"JSPAY":  {"channel": "WECHAT", "trade_type": "JSPAY", "sub_appid": "wx0123456789abcdef", "buyer_id": "oBuyerOne"},
	}
	for name, rw := range rewrites {
		for kind, body := range bodies {
			t.Run(name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{})
				e.AddOrder("POPATH1", mchA, 300)
				e.OnPath.Rewrite(client.OpPreOrder, rw...)
				req := map[string]any{"order_id": "POPATH1"}
				for k, v := range body {
					req[k] = v
				}
				b, err := json.Marshal(req)
				if err != nil {
					t.Fatal(err)
				}
				status, raw := e.Post(t, "/preorder/v2", "application/json", string(b))
				if e.OnPath.Rewritten(client.OpPreOrder) != 1 {
					t.Fatalf("pre-order replies rewritten: %d, want 1", e.OnPath.Rewritten(client.OpPreOrder))
				}
				var got map[string]any
				if err := json.Unmarshal([]byte(raw), &got); err != nil {
					t.Fatalf("reply %q: %v", raw, err)
				}
				otn, _ := got["out_trade_no"].(string)
				if status != http.StatusBadGateway || otn == "" || strings.Contains(raw, "evil") ||
					got["code_url"] != nil || got["pay_info"] != nil {
					t.Fatalf("reply: got %d %s, want 502 naming the attempt, with no code_url or pay_info", status, raw)
				}
				o := e.Get(t, otn)
				if o.Status != store.Pending || o.CodeURL != "" || o.PayInfo != "" {
					t.Errorf("attempt: got %s code_url=%q pay_info=%q, want PENDING with no checkout", o.Status, o.CodeURL, o.PayInfo)
				}
			})
		}
	}
}
