package handler_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// TestHappyPath proves G1, G3, G4 and G6 end to end for every channel and
// protocol version: pre-order → simulated payment → notification → PAID →
// hook once → status shows it.
func TestHappyPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, v := range []model.Version{model.V1, model.V2} {
		for _, ch := range []model.PayType{model.PayWeChat, model.PayAlipay, model.PayECNY} {
			t.Run(fmt.Sprintf("%s/%s", v, ch), func(t *testing.T) {
				id := fmt.Sprintf("HP%s%s", v, ch)
				e.AddOrder(id, mchA, 1999)
				r := e.PreOrder(t, v, map[string]any{"order_id": id, "channel": string(ch)})
				if r.Status != http.StatusCreated {
					t.Fatalf("pre-order: got status %d (%s), want 201", r.Status, r.Detail)
				}
				if want := handler.OutTradeNo(id, 1); r.OutTradeNo != want {
					t.Errorf("out_trade_no: got %q, want %q", r.OutTradeNo, want)
				}
				if r.CodeURL == "" || r.State != string(store.Pending) || r.Amount != 1999 {
					t.Errorf("pre-order reply: got %+v, want a PENDING code_url for 1999 fen", r)
				}
				o := e.Get(t, r.OutTradeNo)
				if o.Version != v || o.Channel != ch || o.Status != store.Pending || o.CodeURL != r.CodeURL {
					t.Fatalf("stored attempt: got %+v, want %s %s PENDING with the code_url", o, v, ch)
				}

				if err := e.Sim.Pay(r.OutTradeNo); err != nil {
					t.Fatal(err)
				}
				e.WaitIdle(t)
				if !e.Sim.Settled(r.OutTradeNo) {
					t.Fatalf("the simulator's notification was not acknowledged: %+v", e.Sim.Deliveries(r.OutTradeNo))
				}
				d := e.Sim.Deliveries(r.OutTradeNo)
				if len(d) != 1 || d[0].Reply != "success" {
					t.Errorf("deliveries: got %+v, want one answered success", d)
				}
				sim, _ := e.Sim.Order(r.OutTradeNo)
				o = e.Get(t, r.OutTradeNo)
				if o.Status != store.Paid || !o.Fulfilled || o.TransactionID != sim.TransactionID {
					t.Errorf("after payment: got status %s fulfilled %v txn %q, want PAID, fulfilled, txn %q",
						o.Status, o.Fulfilled, o.TransactionID, sim.TransactionID)
				}
				if got := e.Hooks.Calls(r.OutTradeNo); got != 1 {
					t.Errorf("hook calls: got %d, want 1", got)
				}

				resp, err := http.Get(e.Server.URL + "/orders/" + r.OutTradeNo)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var view handler.OrderView
				if err := json.NewDecoder(resp.Body).Decode(&view); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusOK || view.Status != string(store.Paid) || !view.Fulfilled ||
					view.Amount != 1999 || view.Channel != string(ch) || view.PaidAt == nil || view.OrderID != id {
					t.Errorf("status: got %d %+v, want 200 PAID fulfilled", resp.StatusCode, view)
				}
			})
		}
	}
}

// TestFailedPayment: a verified notification with pay_result≠0 records the
// failure, answers success, and the order is never PAID (G1).
func TestFailedPayment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("FAILPAY1", mchB, 500)
	otn := e.MustPreOrder(t, model.V2, "FAILPAY1", model.PayAlipay)
	if err := e.Sim.FailPayment(otn); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(t)
	if !e.Sim.Settled(otn) {
		t.Fatalf("failed-payment notification not acknowledged: %+v", e.Sim.Deliveries(otn))
	}
	o := e.Get(t, otn)
	if o.Status != store.Failed || o.TransactionID != "" {
		t.Errorf("got status %s txn %q, want FAILED without a transaction", o.Status, o.TransactionID)
	}
	if n := e.Hooks.Calls(otn); n != 0 {
		t.Errorf("hook calls: got %d, want 0", n)
	}
	// A new attempt may start after a failure.
	r := e.PreOrder(t, model.V2, map[string]any{"order_id": "FAILPAY1", "channel": "ALIPAY"})
	if r.Status != http.StatusCreated || r.OutTradeNo != handler.OutTradeNo("FAILPAY1", 2) {
		t.Errorf("second attempt: got %d %q, want 201 %q", r.Status, r.OutTradeNo, handler.OutTradeNo("FAILPAY1", 2))
	}
}
