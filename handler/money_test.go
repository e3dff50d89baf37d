package handler_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// moneyFacts is what a gateway says about one WeChat payment on both
// paths, every documented fact set.
var moneyFacts = map[string]string{
	"coupon_fee": "30", "fee_type": "CNY", "bank_type": "CMB_CREDIT",
	"sub_appid": "wx2421b1c4370ec43b", "wx_mch_id": "1900000109", "wx_sub_mch_id": "1900000110",
}

// settleVia pays a fresh 4200-fen WeChat attempt at the simulator with
// faults f and settles it through the notification (query=false) or,
// with every notification lost, through the reconciler's order query. It
// returns the env and the attempt's out_trade_no.
func settleVia(t *testing.T, id string, query bool, f gatewaytest.Faults) (*env, string) {
	t.Helper()
	e := newEnv(t, envOptions{timeScale: 0.0001})
	e.AddOrder(id, mchA, 4200)
	otn := handler.OutTradeNo(id, 1)
	f.NoNotify = query
	e.Sim.SetFaults(otn, f)
	if got := e.MustPreOrder(t, model.V2, id, model.PayWeChat); got != otn {
		t.Fatalf("out_trade_no: got %q, want %q", got, otn)
	}
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(t)
	if query {
		if o := e.Get(t, otn); o.Status != store.Pending {
			t.Fatalf("before reconciling: got %s, want PENDING", o.Status)
		}
		e.Clock.Advance(6 * time.Second)
		if err := e.reconciler(t, model.V2).RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if o := e.Get(t, otn); o.Status != store.Paid {
		t.Fatalf("got %s, want PAID", o.Status)
	}
	return e, otn
}

func pathName(query bool) string {
	if query {
		return "query"
	}
	return "notify"
}

// TestMoneyFactsBothPaths: a payment the gateway reports with a coupon and
// every WeChat id is recorded with the same money facts whether its
// notification or the reconciler's order query settles it, the cash being
// the amount minus the coupon; the status route shows them, with the
// channel's trade number.
func TestMoneyFactsBothPaths(t *testing.T) {
	t.Parallel()
	want := store.MoneyFacts{Recorded: true, CouponFee: 30, CashFee: 4170, FeeType: "CNY", BankType: "CMB_CREDIT",
		SubAppID: "wx2421b1c4370ec43b", WxMchID: "1900000109", WxSubMchID: "1900000110"}
	for _, query := range []bool{false, true} {
		t.Run(pathName(query), func(t *testing.T) {
			t.Parallel()
			e, otn := settleVia(t, "MONEY"+pathName(query), query, gatewaytest.Faults{PaymentFacts: moneyFacts})
			o := e.Get(t, otn)
			if o.Money != want {
				t.Errorf("Money: got %+v, want %+v", o.Money, want)
			}
			resp, err := http.Get(e.Server.URL + "/orders/" + otn)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var v handler.OrderView
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
				t.Fatal(err)
			}
			wantView := handler.MoneyView{CouponFee: 30, CashFee: 4170, FeeType: "CNY", BankType: "CMB_CREDIT",
				SubAppID: "wx2421b1c4370ec43b", WxMchID: "1900000109", WxSubMchID: "1900000110"}
			if v.Money == nil || *v.Money != wantView {
				t.Errorf("status money: got %+v, want %+v", v.Money, wantView)
			}
			if v.OutTransactionID == "" || v.OutTransactionID != o.ChannelTransactionID {
				t.Errorf("status out_transaction_id: got %q, want the stored %q", v.OutTransactionID, o.ChannelTransactionID)
			}
		})
	}
}

// TestMoneyFactsAbsent: facts the gateway leaves out stay empty, and no
// coupon means the whole amount was cash.
func TestMoneyFactsAbsent(t *testing.T) {
	t.Parallel()
	for _, query := range []bool{false, true} {
		t.Run(pathName(query), func(t *testing.T) {
			t.Parallel()
			e, otn := settleVia(t, "BARE"+pathName(query), query, gatewaytest.Faults{
				PaymentFacts: map[string]string{"coupon_fee": "", "bank_type": "", "fee_type": "", "sub_appid": ""}})
			if got, want := e.Get(t, otn).Money, (store.MoneyFacts{Recorded: true, CashFee: 4200}); got != want {
				t.Errorf("Money: got %+v, want %+v", got, want)
			}
		})
	}
}

// TestMoneyFactsRefused: facts that are malformed or could have been cut
// out of another signed field make a paid notification be refused (like
// any cut of a decided field), and the reconciler's query then settles
// the payment with its facts left unrecorded (Recorded false: unknown, not
// "no coupon"); a coupon above the amount, which the gateway documents as
// impossible, is not recorded either, and the payment is settled by
// whichever path brings it. Facts never stop a settlement.
func TestMoneyFactsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		facts map[string]string
		// cut: the notification is refused, as a re-cut would be.
		cut bool
	}{
		{"Malformed", map[string]string{"coupon_fee": "-30"}, true},
		{"Padded", map[string]string{"bank_type": "CFT CREDIT"}, true},
		{"Hidden", map[string]string{"device_info": "POS1&coupon_fee=30"}, true},
		{"CouponAboveAmount", map[string]string{"coupon_fee": "4201"}, false},
	} {
		for _, query := range []bool{false, true} {
			t.Run(tc.name+"/"+pathName(query), func(t *testing.T) {
				t.Parallel()
				var e *env
				var otn string
				if !query && tc.cut {
					e, otn = settleRefusedNotify(t, "REF"+tc.name, tc.facts)
				} else {
					e, otn = settleVia(t, "REF"+tc.name+pathName(query), query, gatewaytest.Faults{PaymentFacts: tc.facts})
				}
				o := e.Get(t, otn)
				if o.Money != (store.MoneyFacts{}) {
					t.Errorf("Money: got %+v, want none recorded", o.Money)
				}
				if !o.Fulfilled {
					t.Errorf("the payment was not fulfilled: facts must never stop a settlement")
				}
			})
		}
	}
}

// settleRefusedNotify pays an attempt whose every notification carries
// facts, checks that each delivery was refused and left it PENDING, and
// settles it through the reconciler.
func settleRefusedNotify(t *testing.T, id string, facts map[string]string) (*env, string) {
	t.Helper()
	e := newEnv(t, envOptions{timeScale: 0.0001})
	e.AddOrder(id, mchA, 4200)
	otn := handler.OutTradeNo(id, 1)
	e.Sim.SetFaults(otn, gatewaytest.Faults{PaymentFacts: facts})
	e.MustPreOrder(t, model.V2, id, model.PayWeChat)
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	// The retry schedule (about 3 h of the gateway's time) comes now, in
	// order, instead of over a second of TimeScale.
	if err := e.Sim.Advance(4 * time.Hour); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(t)
	ds := e.Sim.Deliveries(otn)
	if len(ds) == 0 {
		t.Fatal("no notification was delivered")
	}
	for _, d := range ds {
		if d.Reply == "success" {
			t.Fatalf("delivery %d: got success, want the notification refused", d.Attempt)
		}
	}
	if o := e.Get(t, otn); o.Status != store.Pending {
		t.Fatalf("after the refused notifications: got %s, want PENDING", o.Status)
	}
	e.Clock.Advance(6 * time.Second)
	if err := e.reconciler(t, model.V2).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o := e.Get(t, otn); o.Status != store.Paid {
		t.Fatalf("after reconciling: got %s, want PAID", o.Status)
	}
	return e, otn
}
