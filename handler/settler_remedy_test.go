package handler_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// failingRemedy is an AutoRefund Remedy that fails while failing is set
// and records each call's attempt and reason.
type failingRemedy struct {
	failing atomic.Bool
	mu      sync.Mutex
	calls   []string // out_trade_no + " " + why
}

func (f *failingRemedy) Remedy(_ context.Context, o store.Order, why handler.AlertKind) (string, error) {
	f.mu.Lock()
	f.calls = append(f.calls, o.OutTradeNo+" "+string(why))
	f.mu.Unlock()
	if f.failing.Load() {
		return "", errInjected
	}
	return "R-" + o.OutTradeNo, nil
}

func (f *failingRemedy) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// checkRemedyFailure delivers o's payment (transaction txn) twice to r:
// first with the Remedy failing, which must answer fail, raise the alert
// (kind) and leave the attempt PAID and not recorded fulfilled, so that
// the gateway's next delivery tries the refund again; then with it
// working, which answers success and records the attempt. The hook runs
// neither time: the payment was not owed.
func checkRemedyFailure(t *testing.T, mem *memstore.Store, r *settleRig, f *failingRemedy, o *store.Order, txn string, kind handler.AlertKind) {
	t.Helper()
	f.failing.Store(true)
	if got := r.deliver(t, o, txn); got != "fail" {
		t.Errorf("Remedy failing: got reply %q, want fail (the refund is not reserved)", got)
	}
	if n := r.alerts(kind, o.OutTradeNo); n != 1 {
		t.Errorf("%s alerts with the Remedy failing: got %d (%+v), want 1", kind, n, r.rec.Alerts())
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Paid || got.Fulfilled {
		t.Errorf("after the failed Remedy: got %s fulfilled %v, want PAID, not fulfilled (or no delivery tries the refund again)", got.Status, got.Fulfilled)
	}
	f.failing.Store(false)
	if got := r.deliver(t, o, txn); got != "success" {
		t.Errorf("Remedy working again: got reply %q, want success", got)
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Paid || !got.Fulfilled {
		t.Errorf("after the Remedy: got %s fulfilled %v, want PAID and recorded", got.Status, got.Fulfilled)
	}
	want := o.OutTradeNo + " " + string(kind)
	if calls := f.Calls(); len(calls) != 2 || calls[0] != want || calls[1] != want {
		t.Errorf("Remedy calls: got %q, want [%q %q]", calls, want, want)
	}
	if n := r.hookCalls(o.OutTradeNo); n != 0 {
		t.Errorf("hook calls: got %d, want 0", n)
	}
}

// TestDoublePaymentRemedyFailureAnswersFail: a second paid attempt of a
// business order whose AutoRefund Remedy fails is answered fail (the
// gateway delivers again and the refund is tried again), not recorded as
// handled. Mutant killed: settler.go's `err != nil` after
// autoRefund(…, AlertDoublePayment) inverted (the error dropped: the
// attempt recorded and success answered with no refund reserved).
func TestDoublePaymentRemedyFailureAnswersFail(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	f := &failingRemedy{}
	r := newSettleRig(t, mem, handler.SettlerConfig{AutoRefund: f})
	first := pendingOrder(t, mem, "REMDBL001", "REMDBL0", 1)
	second := pendingOrder(t, mem, "REMDBL002", "REMDBL0", 2)
	if got := r.deliver(t, first, "T-FIRST"); got != "success" {
		t.Fatalf("first attempt: got reply %q, want success", got)
	}
	checkRemedyFailure(t, mem, r, f, second, "T-SECOND", handler.AlertDoublePayment)
	if n := r.hookCalls(first.OutTradeNo); n != 1 {
		t.Errorf("hook calls for the first attempt: got %d, want 1", n)
	}
}

// TestAbandonedPaymentRemedyFailureAnswersFail: the same for the payment
// of an attempt its buyer had abandoned (AlertPaidAfterAbandon). Mutant
// killed: the `err != nil` after autoRefund(…, AlertPaidAfterAbandon)
// inverted.
func TestAbandonedPaymentRemedyFailureAnswersFail(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	f := &failingRemedy{}
	r := newSettleRig(t, mem, handler.SettlerConfig{AutoRefund: f})
	o := pendingOrder(t, mem, "REMABN001", "REMABN0", 1)
	if err := mem.Abandon(context.Background(), o.OutTradeNo, "buyer closed", time.Now()); err != nil {
		t.Fatal(err)
	}
	checkRemedyFailure(t, mem, r, f, o, "T-ABANDONED", handler.AlertPaidAfterAbandon)
}

// TestPaidAfterFailRemedy: a payment that lands on an attempt already
// FAILED (the gateway refused its pre-order, then the buyer paid after
// all) is refunded by the AutoRefund Remedy like one on a CLOSED attempt,
// with AlertPaidAfterClose, and reported as a Mismatch; the attempt is
// never settled. A Remedy that fails is reported as a StoreError carrying
// its error (the refund is not reserved: the next delivery tries again).
// Mutants killed (gremlins): settler.go:292:33, the `o.Status ==
// store.Failed` beside the AutoRefund call negated (a FAILED attempt's
// payment kept), and :293:63, the Remedy's error inverted (a failed
// Remedy reported as the mismatch alone, a working one as a StoreError
// with no error).
func TestPaidAfterFailRemedy(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	f := &failingRemedy{}
	events := &handlertest.Recorder{}
	r := newSettleRig(t, mem, handler.SettlerConfig{AutoRefund: f, Observe: events.Observe})
	o := pendingOrder(t, mem, "REMFLD001", "REMFLD0", 1)
	if err := mem.Finish(context.Background(), o.OutTradeNo, store.Failed, "gateway refused", time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := r.deliver(t, o, "T-AFTER-FAIL"); got != "fail" {
		t.Errorf("payment of a FAILED attempt: got reply %q, want fail", got)
	}
	want := o.OutTradeNo + " " + string(handler.AlertPaidAfterClose)
	if calls := f.Calls(); len(calls) != 1 || calls[0] != want {
		t.Errorf("Remedy calls: got %q, want [%q]", calls, want)
	}
	if n := r.alerts(handler.AlertPaidAfterClose, o.OutTradeNo); n != 1 {
		t.Errorf("%s alerts: got %d, want 1", handler.AlertPaidAfterClose, n)
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Failed {
		t.Errorf("attempt: got %s, want FAILED", got.Status)
	}
	if n := r.hookCalls(o.OutTradeNo); n != 0 {
		t.Errorf("hook calls: got %d, want 0", n)
	}
	first := events.Events()
	if len(first) != 1 || first[0].Outcome != handler.Mismatch {
		t.Errorf("events with the Remedy working: %+v, want one Mismatch", first)
	}

	f.failing.Store(true)
	if got := r.deliver(t, o, "T-AFTER-FAIL"); got != "fail" {
		t.Errorf("Remedy failing: got reply %q, want fail", got)
	}
	if calls := f.Calls(); len(calls) != 2 {
		t.Errorf("Remedy calls: got %q, want a second try", calls)
	}
	all := events.Events()
	last := all[len(all)-1]
	if last.Outcome != handler.StoreError || !errors.Is(last.Err, errInjected) {
		t.Errorf("event with the Remedy failing: outcome %s err %v, want StoreError carrying the Remedy's error", last.Outcome, last.Err)
	}
}
