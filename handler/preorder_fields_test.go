package handler_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// fullPurchase sets every pre-order field a host passes through (issue 19
// §5).
func fullPurchase(mchID string) handler.Purchase {
	return handler.Purchase{
		MchID: mchID, Amount: 4, Body: "超赢支付", Attach: "note 1",
		Goods: []model.GoodsDetail{
			{GoodsID: "CY000000", GoodsName: "促销单品-CY00000000000", Quantity: 1, Price: 2},
			{GoodsID: "CY000001", PayGoodsID: "20010001", Quantity: 1, Price: 2},
		},
		GoodsTag: "CY_PROMOTION_001", LimitPay: model.LimitNoCredit,
		OpShopID: "00000001", OpUserID: "00000002", DeviceInfo: "013467007045764",
		ProfitSharing: "Y", ProfitSharingReceiver: `[{"type":"MERCHANT_ID","account":"190001","amount":1}]`,
	}
}

// TestPreOrderFieldsReachGateway: every field of the host's Purchase
// arrives at the gateway in the signed pre-order, as the gateway documents
// it (goods_detail the JSON array of items in fen, limit_pay NO_CREDIT,
// the attribution fields, profit sharing passed through unchanged), with
// mch_create_ip the request's peer; on an e-CNY attempt goods_tag is left
// out, as the gateway demands.
func TestPreOrderFieldsReachGateway(t *testing.T) {
	t.Parallel()
	for _, ch := range []model.PayType{model.PayWeChat, model.PayAlipay, model.PayECNY} {
		t.Run(string(ch), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			id := "FIELDS" + string(ch)
			e.AddPurchase(id, fullPurchase(mchA))
			otn := e.MustPreOrder(t, model.V2, id, ch)
			form, ok := e.Sim.PreOrderRequest(otn)
			if !ok {
				t.Fatal("the simulator has no pre-order")
			}
			if err := sign.Verify(form, sign.MD5, keyA); err != nil {
				t.Fatalf("the pre-order's sign: %v", err)
			}
			want := map[string]string{
				"attach": "note 1", "limit_pay": "NO_CREDIT", "op_shop_id": "00000001", "op_user_id": "00000002",
				"device_info": "013467007045764", "profit_sharing": "Y",
				"profit_sharing_receiver": `[{"type":"MERCHANT_ID","account":"190001","amount":1}]`,
				"goods_detail": `[{"goods_id":"CY000000","goods_name":"促销单品-CY00000000000","quantity":1,"price":2},` +
					`{"goods_id":"CY000001","pay_goods_id":"20010001","quantity":1,"price":2}]`,
				"goods_tag":     "CY_PROMOTION_001",
				"mch_create_ip": "127.0.0.1",
				"total_fee":     "4",
			}
			if ch == model.PayECNY {
				want["goods_tag"] = ""
			}
			for k, v := range want {
				if got := form.Get(k); got != v {
					t.Errorf("%s: got %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestPreOrderIgnoresForwardedFor: with no trusted proxies configured, an
// X-Forwarded-For header the buyer wrote changes nothing: mch_create_ip is
// the peer's address.
func TestPreOrderIgnoresForwardedFor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("XFF1", mchA, 100)
	req, err := http.NewRequest(http.MethodPost, e.Server.URL+"/preorder/"+string(model.V2),
		strings.NewReader(`{"order_id":"XFF1","channel":"WECHAT"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status: got %d, want 201", resp.StatusCode)
	}
	form, _ := e.Sim.PreOrderRequest(handler.OutTradeNo("XFF1", 1))
	if got := form.Get("mch_create_ip"); got != "127.0.0.1" {
		t.Errorf("mch_create_ip: got %q, want the peer 127.0.0.1", got)
	}
}

// TestPreOrderRefusesHostMistakes: a purchase field that breaks its rule
// is the host's mistake: a 500 whose detail names the field, nothing
// recorded, nothing sent to the gateway.
func TestPreOrderRefusesHostMistakes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field string
		v     model.Version
		ch    model.PayType
		edit  func(b *handler.Purchase)
	}{
		{"goods_detail item 2: goods_id", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.Goods[1].GoodsID = "CY 1" }},
		{"goods_detail item 1: quantity", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.Goods[0].Quantity = 0 }},
		{"goods_detail item 1: price", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.Goods[0].Price = -1 }},
		{"goods_detail", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.Goods[0].GoodsName = "100%" }},
		{"limit_pay", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.LimitPay = "NO_DEBIT" }},
		{"goods_tag", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.GoodsTag = "TAG " }},
		{"attach", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.Attach = "a\x00b" }},
		{"op_shop_id", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.OpShopID = "%20" }},
		{"op_user_id", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.OpUserID = " U" }},
		{"device_info", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.DeviceInfo = "POS\t1" }},
		{"profit_sharing", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.ProfitSharing = "Y\n" }},
		{"profit_sharing_receiver", model.V2, model.PayWeChat, func(b *handler.Purchase) { b.ProfitSharingReceiver = "50%" }},
		{"profit_sharing", model.V1, model.PayAlipay, func(b *handler.Purchase) {}},
	} {
		t.Run(tc.field+"/"+string(tc.v), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			id := "HOSTBAD1"
			b := fullPurchase(mchA)
			tc.edit(&b)
			e.AddPurchase(id, b)
			status, body := e.Post(t, "/preorder/"+string(tc.v), "application/json",
				`{"order_id":"`+id+`","channel":"`+string(tc.ch)+`"}`)
			if status != http.StatusInternalServerError || !strings.Contains(body, `"detail":"the order cannot be paid: `+tc.field+" ") {
				t.Errorf("reply: got %d %s, want 500 naming %s", status, body, tc.field)
			}
			if list, err := e.Mem.ListByBusinessID(context.Background(), id); err != nil || len(list) != 0 {
				t.Errorf("attempts recorded: got %d (%v), want none", len(list), err)
			}
			if _, ok := e.Sim.Order(handler.OutTradeNo(id, 1)); ok {
				t.Error("the gateway got the pre-order, want nothing sent")
			}
		})
	}
}
