package refund_test

import (
	"context"
	"testing"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
)

// TestDoublePaymentAutoRefund: with AutoRefund, the second payment of a
// business order is refunded in full, once, and still raises its alert.
func TestDoublePaymentAutoRefund(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{autoRefund: true})
	first, second := payTwice(t, e, "AUTO1", 800)
	if n := countAlerts(e, handler.AlertDoublePayment); n != 1 {
		t.Fatalf("double-payment alerts: got %d, want 1 (raised either way)", n)
	}
	list, _ := e.mem.ListRefunds(context.Background(), second)
	if len(list) != 1 || list[0].Amount != 800 || list[0].State != store.RefundPending {
		t.Fatalf("refunds of the second payment before Poll: got %+v, want one PENDING of 800", list)
	}
	// The gateway retries the notification: still one refund.
	o := e.get(t, second)
	if got := e.postNotify(t, signedNotification(t, o, keyA, func(p *gatewaytest.Payment) {
		p.Channel, p.TransactionID = o.Channel, o.TransactionID
	})); got != "success" {
		t.Fatalf("repeated notification: got %q, want success", got)
	}
	if n, err := e.auto.Poll(context.Background()); err != nil || n != 1 {
		t.Fatalf("Poll: got (%d, %v), want (1, nil)", n, err)
	}
	if st := e.get(t, second).Status; st != store.Refunded {
		t.Errorf("second payment: got %s, want REFUNDED", st)
	}
	if st := e.get(t, first).Status; st != store.Paid {
		t.Errorf("first payment: got %s, want PAID (kept)", st)
	}
	if got := e.sim.Refunds(second); len(got) != 1 || got[0].Fee != 800 {
		t.Errorf("gateway refunds of the second payment: got %+v, want one of 800", got)
	}
	if got := e.sim.Refunds(first); len(got) != 0 {
		t.Errorf("gateway refunds of the first payment: got %+v, want none", got)
	}
}

// TestDoublePaymentNoAutoRefundByDefault: off by default: alert only.
func TestDoublePaymentNoAutoRefundByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	_, second := payTwice(t, e, "AUTO2", 800)
	if n := countAlerts(e, handler.AlertDoublePayment); n != 1 {
		t.Fatalf("double-payment alerts: got %d, want 1", n)
	}
	if list, _ := e.mem.ListRefunds(context.Background(), second); len(list) != 0 {
		t.Errorf("refunds without AutoRefund: got %+v, want none", list)
	}
}

// TestRefundedLateNotification: a copy of the payment notification that
// arrives after a full refund is a duplicate, not a payment after close.
func TestRefundedLateNotification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.paidAttempt(t, "LATE1", 600)
	mustRefund(t, e.refunder(t, nil), refund.Request{OutTradeNo: otn, Amount: 600})
	o := e.get(t, otn)
	if o.Status != store.Refunded {
		t.Fatalf("attempt: got %s, want REFUNDED", o.Status)
	}
	calls := e.hooks.Calls(otn)
	if got := e.postNotify(t, signedNotification(t, o, keyA, func(p *gatewaytest.Payment) {
		p.Channel, p.TransactionID = o.Channel, o.TransactionID
	})); got != "success" {
		t.Fatalf("late notification: got %q, want success", got)
	}
	if a := e.rec.Alerts(); len(a) != 0 {
		t.Errorf("alerts: got %v, want none", a)
	}
	if e.hooks.Calls(otn) != calls {
		t.Errorf("hook ran again for a refunded attempt")
	}
	if st := e.get(t, otn).Status; st != store.Refunded {
		t.Errorf("attempt after the late copy: got %s, want REFUNDED", st)
	}
}

// closedThenPaid pre-orders id, closes the attempt here, then has the
// buyer pay it at the gateway without a notification, and returns the
// attempt and the notification the gateway would send.
func closedThenPaid(t *testing.T, e *env, id string, amount int64) (*store.Order, func() string) {
	t.Helper()
	e.addOrder(id, mchA, amount)
	otn := e.mustPreOrder(t, model.V2, id, model.PayWeChat)
	if err := e.mem.Finish(context.Background(), otn, store.Closed, "expired", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	if err := e.sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	simOrder, _ := e.sim.Order(otn)
	o := e.get(t, otn)
	notify := func() string {
		return e.postNotify(t, signedNotification(t, o, keyA, func(p *gatewaytest.Payment) {
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
	if n := countAlerts(e, handler.AlertPaidAfterClose); n != 2 {
		t.Errorf("paid-after-close alerts: got %d, want one per notification", n)
	}
	list, _ := e.mem.ListRefunds(context.Background(), o.OutTradeNo)
	if len(list) != 1 || list[0].Amount != 900 || !list[0].AfterClose {
		t.Fatalf("refunds: got %+v, want one after-close refund of 900", list)
	}
	if n, err := e.auto.Poll(context.Background()); err != nil || n != 1 {
		t.Fatalf("Poll: got (%d, %v), want (1, nil)", n, err)
	}
	if got := e.sim.Refunds(o.OutTradeNo); len(got) != 1 || got[0].Fee != 900 || got[0].Status != model.RefundSuccess {
		t.Errorf("gateway refunds: got %+v, want one SUCCESS of 900", got)
	}
	if st := e.get(t, o.OutTradeNo).Status; st != store.Closed {
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
	if n := countAlerts(e, handler.AlertPaidAfterClose); n != 1 {
		t.Errorf("alerts: got %d, want 1", n)
	}
	if list, _ := e.mem.ListRefunds(context.Background(), o.OutTradeNo); len(list) != 0 {
		t.Errorf("refunds without AutoRefund: got %+v", list)
	}
}
