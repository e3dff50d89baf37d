package handler_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// TestDoublePayment: a buyer who pays two live QR codes of one business
// order (two attempts, here WeChat then Alipay) pays twice. Both payments
// are real, so both attempts settle PAID and both notifications are
// acknowledged; but the order is fulfilled once, and the second payment
// raises AlertDoublePayment so that someone refunds it.
func TestDoublePayment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("DOUBLE1", mchA, 500)
	first := e.MustPreOrder(t, model.V2, "DOUBLE1", model.PayWeChat)
	second := e.MustPreOrder(t, model.V2, "DOUBLE1", model.PayAlipay)
	if first == second {
		t.Fatalf("both pre-orders returned %s, want two attempts", first)
	}
	for _, otn := range []string{first, second} {
		if err := e.Sim.Pay(otn); err != nil {
			t.Fatal(err)
		}
		e.WaitIdle(t)
		if !e.Sim.Settled(otn) {
			t.Fatalf("notification for %s not acknowledged: %+v", otn, e.Sim.Deliveries(otn))
		}
	}
	for _, otn := range []string{first, second} {
		if o := e.Get(t, otn); o.Status != store.Paid || !o.Fulfilled {
			t.Errorf("%s: got status %s fulfilled %v, want PAID and fulfilled (handled)", otn, o.Status, o.Fulfilled)
		}
	}
	if got := e.Hooks.Calls(first); got != 1 {
		t.Errorf("hook calls for the first payment: got %d, want 1", got)
	}
	if got := e.Hooks.Calls(second); got != 0 {
		t.Errorf("hook calls for the second payment: got %d, want 0 (the order is already fulfilled)", got)
	}
	var doubles []handler.Alert
	for _, a := range e.Rec.Alerts() {
		if a.Kind == handler.AlertDoublePayment {
			doubles = append(doubles, a)
		}
	}
	if len(doubles) != 1 {
		t.Fatalf("double-payment alerts: got %d (%v), want 1", len(doubles), e.Rec.Alerts())
	}
	if a := doubles[0]; a.OutTradeNo != second || a.OtherOutTradeNo != first || a.BusinessID != "DOUBLE1" || a.GotAmount != 500 {
		t.Errorf("alert: got %+v, want out_trade_no %s, other %s, business DOUBLE1, 500 fen", a, second, first)
	}
}

// TestDoublePaymentOutOfOrder: the later payment's notification is
// handled first. Whichever attempt is fulfilled first keeps the order; the
// other is refused and reported, so the hook runs exactly once for the
// business order whatever the arrival order.
func TestDoublePaymentOutOfOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("DOUBLE2", mchA, 700)
	early := e.MustPreOrder(t, model.V2, "DOUBLE2", model.PayWeChat)
	late := e.MustPreOrder(t, model.V2, "DOUBLE2", model.PayAlipay)
	sign := func(otn, txn string, paidAt time.Time) url.Values {
		v, err := gatewaytest.NotificationValues(gatewaytest.Payment{
			MchID: mchA, OutTradeNo: otn, TotalFee: 700, TransactionID: txn, TimeEnd: paidAt,
		}, keyA, "")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := e.PostNotify(t, sign(late, "TLATE", time.Date(2026, 11, 26, 10, 5, 0, 0, model.Beijing))); got != "success" {
		t.Fatalf("late notification: got %q, want success", got)
	}
	if got := e.PostNotify(t, sign(early, "TEARLY", time.Date(2026, 11, 26, 10, 0, 0, 0, model.Beijing))); got != "success" {
		t.Fatalf("early notification: got %q, want success", got)
	}
	if got := e.Hooks.Calls(late) + e.Hooks.Calls(early); got != 1 {
		t.Errorf("hook calls for the business order: got %d, want 1", got)
	}
	if got := e.Hooks.Calls(late); got != 1 {
		t.Errorf("hook calls for the attempt handled first: got %d, want 1", got)
	}
	for _, otn := range []string{early, late} {
		if o := e.Get(t, otn); o.Status != store.Paid || !o.Fulfilled {
			t.Errorf("%s: got status %s fulfilled %v, want PAID and fulfilled", otn, o.Status, o.Fulfilled)
		}
	}
	if a := e.Rec.Alerts(); len(a) != 1 || a[0].Kind != handler.AlertDoublePayment || a[0].OutTradeNo != early {
		t.Errorf("alerts: got %v, want one double_payment for %s", a, early)
	}
}
