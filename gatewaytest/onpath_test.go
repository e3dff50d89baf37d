package gatewaytest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/model"
)

// TestOnPath: with no rules the replies pass unchanged; a rule touches
// only the replies to its call kind, in order, and is counted; Clear
// ends it.
func TestOnPath(t *testing.T) {
	t.Parallel()
	const mch, key = "00000001", "0123456789abcdef0123456789abcdef"
	sim := gatewaytest.RunT(t, gatewaytest.Config{Merchants: map[string]string{mch: key}})
	p := gatewaytest.NewOnPath(nil)
	c, err := client.New(client.Config{GatewayURL: sim.URL, OpenURL: sim.URL,
		Keys:       client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{mch: key})},
		HTTPClient: &http.Client{Transport: p}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pre := &model.PreOrderRequest{Channel: model.PayWeChat, MchID: mch, Body: "goods", OutTradeNo: "ONPATH0001",
		TotalFee: 1, NotifyURL: "http://127.0.0.1:1/n", TradeType: model.TradeTypeNative, ProductID: "P1"}
	q := &model.OrderQueryRequest{PayType: model.PayWeChat, MchID: mch, OutTradeNo: pre.OutTradeNo}
	if _, err := c.PreOrder(ctx, pre); err != nil {
		t.Fatalf("untouched pre-order: %v", err)
	}
	var seen url.Values
	p.RewriteEach(client.OpOrderQuery, func(form url.Values, reply map[string]string) { seen = form })
	p.Rewrite(client.OpCancel, gatewaytest.StripSign())
	if _, err := c.OrderQuery(ctx, q); err != nil {
		t.Fatalf("a rewrite that changes nothing: %v", err)
	}
	if seen.Get("out_trade_no") != pre.OutTradeNo {
		t.Errorf("RewriteEach saw form %v, want the request's", seen)
	}
	p.Rewrite(client.OpOrderQuery, gatewaytest.Set("code", "10004"), gatewaytest.Resign("", key))
	if resp, err := c.OrderQuery(ctx, q); err != nil || resp.Outcome() != model.OutcomeClosed {
		t.Errorf("re-signed with the gateway's key: got %+v, %v, want closed", resp, err)
	}
	if got := p.Last(client.OpOrderQuery); got["code"] != "10004" || got["sign"] == "" {
		t.Errorf("Last: got %v", got)
	}
	p.Rewrite(client.OpOrderQuery, gatewaytest.Drop("state"))
	if _, err := c.OrderQuery(ctx, q); err == nil {
		t.Error("state dropped: got no error")
	}
	if n := p.Rewritten(client.OpOrderQuery); n != 3 {
		t.Errorf("Rewritten: got %d, want 3", n)
	}
	if n := p.Rewritten(client.OpPreOrder); n != 0 {
		t.Errorf("pre-order replies rewritten: got %d, want 0", n)
	}
	p.Clear()
	if _, err := c.OrderQuery(ctx, q); err != nil {
		t.Errorf("after Clear: %v", err)
	}
	if _, err := c.Cancel(ctx, &model.CancelRequest{PayType: model.PayWeChat, MchID: mch, OutTradeNo: pre.OutTradeNo}); errors.Is(err, client.ErrUnsigned) {
		t.Errorf("cancel after Clear: %v", err)
	}
}
