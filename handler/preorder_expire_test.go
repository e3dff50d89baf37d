package handler_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
)

// TestPreOrderCarriesExpiry: every pre-order, on the v2 gateway and on the
// legacy ones (v1, and /Open for WeChat and Alipay), carries time_start and
// time_expire together, as the simulator received them (it accepts signed
// requests only), in GMT+8: the default life is 2 hours, a purchase may
// set its own, and the attempt records the expiry it was sent with.
func TestPreOrderCarriesExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	cases := []struct {
		id     string
		v      model.Version
		ch     model.PayType
		expire time.Duration // Purchase.Expire
		want   time.Duration
	}{
		{"EXPV2W", model.V2, model.PayWeChat, 0, 2 * time.Hour},
		{"EXPV2A", model.V2, model.PayAlipay, 0, 2 * time.Hour},
		{"EXPV2E", model.V2, model.PayECNY, 0, 2 * time.Hour},
		{"EXPV1W", model.V1, model.PayWeChat, 0, 2 * time.Hour}, // /Open/WECHAT_PreOrder
		{"EXPV1A", model.V1, model.PayAlipay, 0, 2 * time.Hour}, // /Open/ALIPAY_PreOrder
		{"EXPV1E", model.V1, model.PayECNY, 0, 2 * time.Hour},
		{"EXPOWN", model.V2, model.PayWeChat, 30 * time.Minute, 30 * time.Minute},
		{"EXPMIN", model.V1, model.PayAlipay, handler.MinExpire, handler.MinExpire},
		{"EXPMAX", model.V2, model.PayAlipay, handler.MaxExpire, handler.MaxExpire},
	}
	for _, tc := range cases {
		e.AddPurchase(tc.id, handler.Purchase{MchID: mchA, Amount: 100, Body: "goods", Expire: tc.expire})
		now := e.Clock.Now()
		otn := e.MustPreOrder(t, tc.v, tc.id, tc.ch)
		got, ok := e.Sim.Order(otn)
		if !ok {
			t.Fatalf("%s: the simulator has no order %s", tc.id, otn)
		}
		wantStart, wantExpire := model.FormatTime(now), model.FormatTime(now.Add(tc.want))
		if got.TimeStart != wantStart || got.TimeExpire != wantExpire {
			t.Errorf("%s (%s %s): gateway got time_start %q time_expire %q, want %q %q",
				tc.id, tc.v, tc.ch, got.TimeStart, got.TimeExpire, wantStart, wantExpire)
		}
		if exp := e.Get(t, otn).ExpiresAt; model.FormatTime(exp) != wantExpire || exp.After(now.Add(tc.want)) {
			t.Errorf("%s: stored ExpiresAt %v, want %s GMT+8 and not after the expiry sent", tc.id, exp, wantExpire)
		}
		e.Clock.Advance(time.Second)
	}
}

// TestPreOrderExpireBounds: an expiry outside 1 minute–24 hours is
// refused, from the configuration at construction and from Resolve as a
// 500 (the host's bug) that records no attempt.
func TestPreOrderExpireBounds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, d := range []time.Duration{-time.Minute, 59 * time.Second, handler.MinExpire, handler.MaxExpire, handler.MaxExpire + time.Second} {
		_, err := handler.NewPreOrder(handler.PreOrderConfig{
			Store: e.Store, Client: e.Clients[model.V2], Resolve: e.Resolve, Authorize: handler.AllowAnyone,
			NotifyURL: e.Server.URL + "/notify", Expire: d,
		})
		if ok := d >= handler.MinExpire && d <= handler.MaxExpire; ok != (err == nil) {
			t.Errorf("NewPreOrder with Expire %v: got error %v, want one only outside 1m–24h", d, err)
		}
	}
	for i, d := range []time.Duration{-time.Minute, 59 * time.Second, handler.MaxExpire + time.Second} {
		id := "EXPBAD" + string(rune('A'+i))
		e.AddPurchase(id, handler.Purchase{MchID: mchA, Amount: 100, Body: "goods", Expire: d})
		status, body := e.Post(t, "/preorder/v2", "application/json", `{"order_id":"`+id+`","channel":"WECHAT"}`)
		if status != http.StatusInternalServerError {
			t.Errorf("Purchase.Expire %v: got %d %s, want 500", d, status, body)
		}
		if list, _ := e.Mem.ListByBusinessID(context.Background(), id); len(list) != 0 {
			t.Errorf("Purchase.Expire %v: %d attempts recorded, want none", d, len(list))
		}
	}
}

// TestPreOrderNoReuseNearExpiry: a repeated request is not handed an
// attempt with less than a minute to live (the buyer would scan a code the
// gateway is about to close); it gets a new attempt.
func TestPreOrderNoReuseNearExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddPurchase("EXPREUSE", handler.Purchase{MchID: mchA, Amount: 100, Body: "goods", Expire: 90 * time.Second})
	first := e.MustPreOrder(t, model.V2, "EXPREUSE", model.PayWeChat)
	e.Clock.Advance(20 * time.Second) // 70 s left
	if r := e.PreOrder(t, model.V2, map[string]any{"order_id": "EXPREUSE", "channel": "WECHAT"}); r.Status != http.StatusOK || r.OutTradeNo != first {
		t.Errorf("repeat with 70 s left: got %d %q, want 200 reusing %q", r.Status, r.OutTradeNo, first)
	}
	e.Clock.Advance(20 * time.Second) // 50 s left, inside the 2-minute reuse window
	r := e.PreOrder(t, model.V2, map[string]any{"order_id": "EXPREUSE", "channel": "WECHAT"})
	if r.Status != http.StatusCreated || r.OutTradeNo != handler.OutTradeNo("EXPREUSE", 2) {
		t.Errorf("repeat with 50 s left: got %d %q, want 201 %q", r.Status, r.OutTradeNo, handler.OutTradeNo("EXPREUSE", 2))
	}
}

// legacyAttempt records a PENDING WeChat attempt the way the pre-order
// handler did before attempts expired: pre-ordered at the gateway without
// time_start and time_expire, stored with a zero ExpiresAt.
func (e *env) legacyAttempt(t testing.TB, otn string) string {
	t.Helper()
	_, err := e.Clients[model.V2].PreOrder(context.Background(), &model.PreOrderRequest{
		Channel: model.PayWeChat, MchID: mchA, Body: "goods", OutTradeNo: otn, TotalFee: 10,
		NotifyURL: e.Server.URL + "/notify", TradeType: model.TradeTypeNative, ProductID: otn,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e.CreatePending(t, otn, mchA, model.V2, 10).OutTradeNo
}
