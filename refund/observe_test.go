package refund_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
)

// refundEvents records RefundEvents as "result amount" lines.
type refundEvents struct {
	mu  sync.Mutex
	got []string
}

func (r *refundEvents) observe(e refund.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, fmt.Sprintf("%s %d", e.Result, e.Amount))
}

// take returns the events so far and forgets them.
func (r *refundEvents) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.got, ", ")
	r.got = nil
	return s
}

// TestRefundObserve drives refunds through every kind of gateway answer
// and proves the Observe hook sees each step once, with its amount.
func TestRefundObserve(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ev := &refundEvents{}
	r := e.refunder(t, func(c *refund.Config) { c.Observe = ev.observe })
	ctx := context.Background()

	ok := e.PaidAttempt(t, "RO1", 1000)
	mustRefund(t, r, refund.Request{OutTradeNo: ok, Amount: 300, IdempotencyKey: "k1"})
	if got, want := ev.take(), "requested 300, succeeded 300"; got != want {
		t.Errorf("refund that succeeds: got %q, want %q", got, want)
	}
	// A repeat with the same key refunds nothing and reports nothing.
	mustRefund(t, r, refund.Request{OutTradeNo: ok, Amount: 300, IdempotencyKey: "k1"})
	if got := ev.take(); got != "" {
		t.Errorf("idempotent repeat: got %q, want no event", got)
	}
	if _, err := r.Refund(ctx, refund.Request{OutTradeNo: ok, Amount: 5000}); !errors.Is(err, refund.ErrAmount) {
		t.Fatalf("refund over the rest: got %v, want refund.ErrAmount", err)
	}
	if got, want := ev.take(), "refused 5000"; got != want {
		t.Errorf("refused refund: got %q, want %q", got, want)
	}

	fail := e.PaidAttempt(t, "RO2", 1000)
	e.Sim.SetFaults(fail, gatewaytest.Faults{RefundStatus: model.RefundFail})
	mustRefund(t, r, refund.Request{OutTradeNo: fail, Amount: 1000})
	if got, want := ev.take(), "requested 1000, failed 1000"; got != want {
		t.Errorf("refund that fails: got %q, want %q", got, want)
	}

	change := e.PaidAttempt(t, "RO3", 1000)
	e.Sim.SetFaults(change, gatewaytest.Faults{RefundStatus: model.RefundChange})
	mustRefund(t, r, refund.Request{OutTradeNo: change, Amount: 200})
	if got, want := ev.take(), "requested 200, change 200"; got != want {
		t.Errorf("refund returned to the merchant: got %q, want %q", got, want)
	}

	slow := e.PaidAttempt(t, "RO4", 1000)
	e.Sim.SetFaults(slow, gatewaytest.Faults{RefundStatus: model.RefundProcessing})
	sv := mustRefund(t, r, refund.Request{OutTradeNo: slow, Amount: 700})
	if got, want := ev.take(), "requested 700, processing 700"; got != want {
		t.Errorf("refund accepted: got %q, want %q", got, want)
	}
	if err := e.Sim.SetRefundStatus(sv.OutRefundNo, model.RefundSuccess); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	if n, err := r.Poll(ctx); n != 1 || err != nil {
		t.Fatalf("Poll: got %d, %v; want 1, nil", n, err)
	}
	if got, want := ev.take(), "succeeded 700"; got != want {
		t.Errorf("refund finished by Poll: got %q, want %q", got, want)
	}
}

// TestRefundObserveUncertain: a refund whose reply is lost is reported
// uncertain, then succeeded once a Poll finds it.
func TestRefundObserveUncertain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ev := &refundEvents{}
	var stages []string
	r := e.refunder(t, func(c *refund.Config) {
		c.Observe = ev.observe
		c.Trace = func(ctx context.Context, st handler.Stage) (context.Context, func(error)) {
			return ctx, func(err error) { stages = append(stages, fmt.Sprintf("%s %v", st, err != nil)) }
		}
	})
	otn := e.PaidAttempt(t, "RO5", 1000)
	e.Sim.SetFaults(otn, gatewaytest.Faults{RefundLostReplies: 1, RefundQueryLost: 1})
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 400})
	if v.Final() {
		t.Fatalf("refund with lost replies: got %s, want in flight", v.Status)
	}
	if got, want := ev.take(), "requested 400, uncertain 400"; got != want {
		t.Errorf("lost replies: got %q, want %q", got, want)
	}
	e.Clock.Advance(time.Minute)
	if n, err := r.Poll(context.Background()); n != 1 || err != nil {
		t.Fatalf("Poll: got %d, %v; want 1, nil", n, err)
	}
	if got, want := ev.take(), "succeeded 400"; got != want {
		t.Errorf("refund found by Poll: got %q, want %q", got, want)
	}
	if got, want := strings.Join(stages, ", "), "refund true, refund false"; got != want {
		t.Errorf("traced stages: got %q, want %q", got, want)
	}
	if got, _ := r.Get(context.Background(), v.OutRefundNo); got.Status != string(store.RefundSucceeded) {
		t.Errorf("after Poll: got %s, want SUCCESS", got.Status)
	}
}

// TestHistoryRecordsRefunds: a Refunder with Events records the request
// and the gateway's answer in the attempt's history, under the host's
// name.
func TestHistoryRecordsRefunds(t *testing.T) {
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "HISTREF1", 1000)
	rf := e.refunder(t, func(c *refund.Config) { c.Events = e.Mem })
	mustRefund(t, rf, refund.Request{OutTradeNo: otn, Amount: 300})
	evs, err := e.Mem.ListEvents(context.Background(), otn)
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Skipf("no host name here (%v): the Instance check needs one", err)
	}
	var requested, answered bool
	for _, ev := range evs {
		if ev.Instance != host {
			t.Errorf("event %s: got instance %q, want the host's name %q", ev.Kind, ev.Instance, host)
		}
		switch ev.Kind {
		case store.EventRefundRequested:
			requested = ev.Amount == 300 && ev.Source == string(handler.SourceRefund)
		case store.EventRefundAnswered:
			answered = true
		}
	}
	if !requested || !answered {
		t.Fatalf("history %+v: want refund_requested of 300 and a refund_answered", evs)
	}
}

// TestHistoryRecordsRefusedRefunds: a refused request is history too,
// with why, even when nothing observes the Refunder.
func TestHistoryRecordsRefusedRefunds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "HISTREF2", 1000)
	rf := e.refunder(t, func(c *refund.Config) { c.Events = e.Mem })
	if _, err := rf.Refund(context.Background(), refund.Request{OutTradeNo: otn, Amount: 5000}); !errors.Is(err, refund.ErrAmount) {
		t.Fatalf("Refund of 5000 on 1000: got %v, want ErrAmount", err)
	}
	evs, err := e.Mem.ListEvents(context.Background(), otn)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, ev := range evs {
		if ev.Kind == store.EventRefundRequested {
			found = ev.Outcome == string(refund.Refused) && ev.Amount == 5000 &&
				strings.Contains(ev.Detail, "err="+refund.ErrAmount.Error())
		}
	}
	if !found {
		t.Fatalf("history %+v: want a refund_requested, refused, of 5000, saying why", evs)
	}
}

// failingEvents is an event history whose every write fails.
type failingEvents struct{ store.EventStore }

func (failingEvents) AddEvent(context.Context, *store.Event) error {
	return errors.New("test: history down")
}

// TestHistoryFailureChangesNothing: a history that fails to write is
// logged and changes nothing about the refund.
func TestHistoryFailureChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "HISTREF3", 1000)
	rf := e.refunder(t, func(c *refund.Config) { c.Events = failingEvents{e.Mem} })
	v := mustRefund(t, rf, refund.Request{OutTradeNo: otn, Amount: 300})
	if v.Status != string(store.RefundSucceeded) {
		t.Errorf("refund with a failing history: got %s, want SUCCESS", v.Status)
	}
	wantOneNumber(t, e, otn, v.OutRefundNo, 1)
}
