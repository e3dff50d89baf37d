package handler_test

// Tests for the Settler mutants that the third mutation run (issue 16 §3,
// the rest of settler.go and notify.go) found alive. Each names the
// mutant it kills, as gremlins prints it (file:line:col on the tree of
// that run).

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// reversePaid pays o with transaction id txn straight in the store after
// its buyer abandoned it, then reverses it: what a close whose cancel
// reversed a payment leaves behind, with the payment recorded.
func reversePaid(t testing.TB, mem *memstore.Store, o *store.Order, txn string) {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	if err := mem.Abandon(ctx, o.OutTradeNo, "buyer closed", now); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Settle(ctx, o.OutTradeNo, store.Payment{TransactionID: txn, PaidAt: now}, now); err != nil {
		t.Fatal(err)
	}
	if err := mem.Reverse(ctx, o.OutTradeNo, "cancel reversed the payment", now); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Reversed || got.TransactionID != txn {
		t.Fatalf("%s: got %s %q, want REVERSED with %s", o.OutTradeNo, got.Status, got.TransactionID, txn)
	}
}

// TestLateCopyOfReversedPayment: a copy of the reversed payment (the
// transaction id the store recorded) is acknowledged with no alert and no
// hook; a payment of the REVERSED attempt under another transaction id is
// a second payment: AlertTransactionConflict and fail. Mutant killed:
// settler.go:230:47 (the REVERSED case's transaction ids compared with ==,
// so the copy raises the conflict and the second payment passes).
func TestLateCopyOfReversedPayment(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	r := newSettleRig(t, mem, handler.SettlerConfig{})
	o := pendingOrder(t, mem, "REVLATE01", "REVLATE0", 1)
	reversePaid(t, mem, o, "T-REVERSED")

	if got := r.deliver(t, o, "T-REVERSED"); got != "success" {
		t.Errorf("late copy of the reversed payment: got reply %q, want success", got)
	}
	if n := len(r.rec.Alerts()); n != 0 {
		t.Errorf("alerts after the late copy: got %+v, want none", r.rec.Alerts())
	}
	if got := r.deliver(t, o, "T-OTHER"); got != "fail" {
		t.Errorf("another transaction id on a REVERSED attempt: got reply %q, want fail", got)
	}
	if n := r.alerts(handler.AlertTransactionConflict, o.OutTradeNo); n != 1 {
		t.Errorf("transaction-conflict alerts: got %d (%+v), want 1", n, r.rec.Alerts())
	}
	if n := r.hookCalls(o.OutTradeNo); n != 0 {
		t.Errorf("hook calls: got %d, want 0", n)
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Reversed || got.TransactionID != "T-REVERSED" {
		t.Errorf("attempt: got %s %q, want REVERSED with T-REVERSED", got.Status, got.TransactionID)
	}
}

// TestRecordPausesBetweenTries: a record that keeps failing is tried
// again after pauses that grow (50 ms, then doubling), not in a tight
// loop that would hammer a database already in trouble for all of
// RecordFor. Within 300 ms that is at most five tries, whatever the
// load (a pause is a least wait). Mutants killed: settler.go:478:14 (a
// first pause of 50/time.Millisecond, nothing) and settler.go:503:16 (the
// next pause 2/pause, nothing).
func TestRecordPausesBetweenTries(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	ms := &markFailStore{Store: mem}
	ms.fails.Store(-1)
	r := newSettleRig(t, mem, handler.SettlerConfig{Store: ms, RecordFor: 300 * time.Millisecond})
	o := pendingOrder(t, mem, "PAUSE0001", "PAUSE0", 1)

	if got := r.deliver(t, o, "T1"); got != "fail" {
		t.Errorf("record failing throughout: got reply %q, want fail", got)
	}
	if n := ms.calls.Load(); n < 2 || n > 5 {
		t.Errorf("MarkFulfilled calls in 300 ms: got %d, want 2 to 5 (tries 50, 100, 200 ms apart)", n)
	}
}

// TestAlertRecordedInHistory: with Events set (and no Inbox), an alert
// goes into the attempt's history, where LoadHistory shows it beside
// the payment; with neither, nothing is written and nothing fails.
// Mutant killed: settler.go:314:36 on the run's tree (the alert written
// only when there is no EventStore), the same check that
// recorder.recordLater now makes.
func TestAlertRecordedInHistory(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	r := newSettleRig(t, mem, handler.SettlerConfig{Events: mem})
	o := pendingOrder(t, mem, "ALERTH001", "ALERTH0", 1)
	reversePaid(t, mem, o, "T-FIRST")

	if got := r.deliver(t, o, "T-SECOND"); got != "fail" {
		t.Fatalf("second payment of a REVERSED attempt: got reply %q, want fail", got)
	}
	if err := r.settler.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	h, err := handler.LoadHistory(context.Background(), mem, mem, o.OutTradeNo)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, e := range h.Events {
		if e.Kind == store.EventAlert {
			alerts = append(alerts, e.Outcome+" "+e.Detail)
		}
	}
	if len(alerts) != 1 {
		t.Errorf("alert events in the history: got %q (all %d events), want 1", alerts, len(h.Events))
	}
}

// getFailStore fails every Get, as a database that is down does.
type getFailStore struct{ *memstore.Store }

func (getFailStore) Get(context.Context, string) (*store.Order, error) { return nil, errInjected }

// TestStoreDownIsStoreErrorNotTimeout: a store that fails while the
// request still has time is a StoreError (500, what an operator's
// dashboard counts as the database failing), not a Timeout (503, the
// deadline). Mutant killed: settler.go:559:15 (lockOutcome's test of
// ctx inverted, so every store failure is reported as a timeout).
func TestStoreDownIsStoreErrorNotTimeout(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	var mu sync.Mutex
	var outcomes []handler.Outcome
	r := newSettleRig(t, mem, handler.SettlerConfig{Store: getFailStore{mem}, Observe: func(e handler.Event) {
		mu.Lock()
		defer mu.Unlock()
		outcomes = append(outcomes, e.Outcome)
	}})
	o := pendingOrder(t, mem, "DOWN00001", "DOWN0", 1)

	body := signedNotification(t, o, keyFor(o), nil).Encode()
	rec := httptestRecorder(r.notify, http.MethodPost, "/notify", formType, body)
	if rec.Code != http.StatusInternalServerError || rec.Body.String() != "fail" {
		t.Errorf("store down: got %d %q, want 500 fail", rec.Code, rec.Body.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(outcomes) != 1 || outcomes[0] != handler.StoreError {
		t.Errorf("outcomes: got %v, want [%v]", outcomes, handler.StoreError)
	}
}
