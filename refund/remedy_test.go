package refund_test

import (
	"context"
	"testing"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
)

// TestDoublePaymentAutoRefund: with AutoRefund, the second payment of a
// business order is refunded in full, once, and still raises its alert.
func TestDoublePaymentAutoRefund(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{autoRefund: true})
	first, second := e.PayTwice(t, "AUTO1", 800)
	if n := e.Rec.Alerted(handler.AlertDoublePayment); n != 1 {
		t.Fatalf("double-payment alerts: got %d, want 1 (raised either way)", n)
	}
	list, _ := e.Mem.ListRefunds(context.Background(), second)
	if len(list) != 1 || list[0].Amount != 800 || list[0].State != store.RefundPending {
		t.Fatalf("refunds of the second payment before Poll: got %+v, want one PENDING of 800", list)
	}
	// The gateway retries the notification: still one refund.
	o := e.Get(t, second)
	if got := e.PostNotify(t, handlertest.SignedNotification(t, o, handlertest.KeyA, func(p *gatewaytest.Payment) {
		p.Channel, p.TransactionID = o.Channel, o.TransactionID
	})); got != "success" {
		t.Fatalf("repeated notification: got %q, want success", got)
	}
	if n, err := e.auto.Poll(context.Background()); err != nil || n != 1 {
		t.Fatalf("Poll: got (%d, %v), want (1, nil)", n, err)
	}
	if st := e.Get(t, second).Status; st != store.Refunded {
		t.Errorf("second payment: got %s, want REFUNDED", st)
	}
	if st := e.Get(t, first).Status; st != store.Paid {
		t.Errorf("first payment: got %s, want PAID (kept)", st)
	}
	if got := e.Sim.Refunds(second); len(got) != 1 || got[0].Fee != 800 {
		t.Errorf("gateway refunds of the second payment: got %+v, want one of 800", got)
	}
	if got := e.Sim.Refunds(first); len(got) != 0 {
		t.Errorf("gateway refunds of the first payment: got %+v, want none", got)
	}
}

// TestDoublePaymentNoAutoRefundByDefault: off by default: alert only.
func TestDoublePaymentNoAutoRefundByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	_, second := e.PayTwice(t, "AUTO2", 800)
	if n := e.Rec.Alerted(handler.AlertDoublePayment); n != 1 {
		t.Fatalf("double-payment alerts: got %d, want 1", n)
	}
	if list, _ := e.Mem.ListRefunds(context.Background(), second); len(list) != 0 {
		t.Errorf("refunds without AutoRefund: got %+v, want none", list)
	}
}

// TestRefundedLateNotification: a copy of the payment notification that
// arrives after a full refund is a duplicate, not a payment after close.
func TestRefundedLateNotification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "LATE1", 600)
	mustRefund(t, e.refunder(t, nil), refund.Request{OutTradeNo: otn, Amount: 600})
	o := e.Get(t, otn)
	if o.Status != store.Refunded {
		t.Fatalf("attempt: got %s, want REFUNDED", o.Status)
	}
	calls := e.Hooks.Calls(otn)
	if got := e.PostNotify(t, handlertest.SignedNotification(t, o, handlertest.KeyA, func(p *gatewaytest.Payment) {
		p.Channel, p.TransactionID = o.Channel, o.TransactionID
	})); got != "success" {
		t.Fatalf("late notification: got %q, want success", got)
	}
	if a := e.Rec.Alerts(); len(a) != 0 {
		t.Errorf("alerts: got %v, want none", a)
	}
	if e.Hooks.Calls(otn) != calls {
		t.Errorf("hook ran again for a refunded attempt")
	}
	if st := e.Get(t, otn).Status; st != store.Refunded {
		t.Errorf("attempt after the late copy: got %s, want REFUNDED", st)
	}
}

// closedThenPaid pre-orders id, closes the attempt here, then has the
// buyer pay it at the gateway without a notification, and returns the
// attempt and the notification the gateway would send.
func closedThenPaid(t *testing.T, e *env, id string, amount int64) (*store.Order, func() string) {
	t.Helper()
	e.AddOrder(id, handlertest.MchA, amount)
	otn := e.MustPreOrder(t, model.V2, id, model.PayWeChat)
	if err := e.Mem.Finish(context.Background(), otn, store.Closed, "expired", e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.Sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	simOrder, _ := e.Sim.Order(otn)
	o := e.Get(t, otn)
	notify := func() string {
		return e.PostNotify(t, handlertest.SignedNotification(t, o, handlertest.KeyA, func(p *gatewaytest.Payment) {
			p.Channel, p.TransactionID = o.Channel, simOrder.TransactionID
		}))
	}
	return o, notify
}

// TestPaidAfterCloseAutoRefund: with AutoRefund, a payment that lands on
// a closed attempt is refunded in full, once; the alert is raised and the
// attempt stays CLOSED.
func TestPaidAfterCloseAutoRefund(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{autoRefund: true})
	o, notify := closedThenPaid(t, e, "LATEPAY1", 900)
	for i := 0; i < 2; i++ {
		if got := notify(); got != "fail" {
			t.Fatalf("notification %d for a closed attempt: got %q, want fail", i+1, got)
		}
	}
	if n := e.Rec.Alerted(handler.AlertPaidAfterClose); n != 2 {
		t.Errorf("paid-after-close alerts: got %d, want one per notification", n)
	}
	list, _ := e.Mem.ListRefunds(context.Background(), o.OutTradeNo)
	if len(list) != 1 || list[0].Amount != 900 || !list[0].AfterClose {
		t.Fatalf("refunds: got %+v, want one after-close refund of 900", list)
	}
	if n, err := e.auto.Poll(context.Background()); err != nil || n != 1 {
		t.Fatalf("Poll: got (%d, %v), want (1, nil)", n, err)
	}
	if got := e.Sim.Refunds(o.OutTradeNo); len(got) != 1 || got[0].Fee != 900 || got[0].Status != model.RefundSuccess {
		t.Errorf("gateway refunds: got %+v, want one SUCCESS of 900", got)
	}
	if st := e.Get(t, o.OutTradeNo).Status; st != store.Closed {
		t.Errorf("attempt: got %s, want CLOSED", st)
	}
}

// TestPaidAfterCloseNoAutoRefundByDefault: off by default: alert only.
func TestPaidAfterCloseNoAutoRefundByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	o, notify := closedThenPaid(t, e, "LATEPAY2", 900)
	if got := notify(); got != "fail" {
		t.Fatalf("notification: got %q, want fail", got)
	}
	if n := e.Rec.Alerted(handler.AlertPaidAfterClose); n != 1 {
		t.Errorf("alerts: got %d, want 1", n)
	}
	if list, _ := e.Mem.ListRefunds(context.Background(), o.OutTradeNo); len(list) != 0 {
		t.Errorf("refunds without AutoRefund: got %+v", list)
	}
}
