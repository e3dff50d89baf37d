package handler_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// lifecycle drives one reconciler on a fake clock shared with the
// simulator: a pass every 5 s, as Run makes them, with events (payments)
// run at their own instants between passes.
type lifecycle struct {
	t     *testing.T
	e     *env
	r     *handler.Reconciler
	g     *gatewayLog
	start time.Time
}

func newLifecycle(t *testing.T, opt envOptions) *lifecycle {
	opt.simClock = true
	e := newEnv(t, opt)
	g := &gatewayLog{}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.loggedClient(t, g), Logger: quietLogger(), Now: e.Clock.Now,
		Concurrency: 8, Batch: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &lifecycle{t: t, e: e, r: r, g: g, start: e.Clock.Now()}
}

// event is something done at an instant: a payment at the gateway.
type event struct {
	at time.Time
	do func()
}

// run moves the clock to until, running a pass at every 5 s from the
// start and each event at its instant (before a pass at the same one),
// and calls after at the end of every pass.
func (l *lifecycle) run(until time.Time, events []event, after func(now time.Time)) {
	sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	pass := l.start.Add(5 * time.Second)
	for pass.Before(l.e.Clock.Now()) || pass.Equal(l.e.Clock.Now()) {
		pass = pass.Add(5 * time.Second)
	}
	for !pass.After(until) {
		if len(events) > 0 && !events[0].at.After(pass) {
			l.e.Clock.Advance(events[0].at.Sub(l.e.Clock.Now()))
			events[0].do()
			events = events[1:]
			continue
		}
		l.e.Clock.Advance(pass.Sub(l.e.Clock.Now()))
		if err := l.r.RunOnce(context.Background()); err != nil {
			l.t.Fatalf("pass at +%v: %v", pass.Sub(l.start), err)
		}
		if after != nil {
			after(pass)
		}
		pass = pass.Add(5 * time.Second)
	}
}

// queries returns how many gateway calls were made for otn.
func (l *lifecycle) queries(otn string) int { return l.g.count()[otn] }

// TestLifecycleAbandonedBudget: an attempt with the default 2-hour expiry
// that nobody pays costs at most 36 gateway queries (it cost 36 over 24
// hours before attempts expired), is recorded CLOSED by one query just
// after its expiry, and is never queried again.
func TestLifecycleAbandonedBudget(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, envOptions{})
	l.e.AddOrder("ABANDON1", mchA, 100)
	otn := l.e.MustPreOrder(t, model.V2, "ABANDON1", model.PayWeChat)
	exp := l.e.Get(t, otn).ExpiresAt
	var closedAt time.Time
	var atClose, inFast int
	l.run(l.start.Add(5*time.Hour), nil, func(now time.Time) {
		if now.Sub(l.start) == 120*time.Second {
			inFast = l.queries(otn)
		}
		if closedAt.IsZero() && l.e.Get(t, otn).Status != store.Pending {
			closedAt, atClose = now, l.queries(otn)
		}
	})
	o := l.e.Get(t, otn)
	total := l.queries(otn)
	t.Logf("abandoned 2 h attempt: %d queries (%d in the 120 s fast window, %d in the tail, 1 closing), closed %v after expiry",
		total, inFast, total-inFast-1, closedAt.Sub(exp))
	if o.Status != store.Closed {
		t.Fatalf("after 5 h: got %s, want CLOSED", o.Status)
	}
	if total > 36 {
		t.Errorf("queries: got %d, want at most 36", total)
	}
	if closedAt.Before(exp) || closedAt.Sub(exp) > time.Minute+5*time.Second {
		t.Errorf("closed at %v after expiry, want just after it (at most 1 min 5 s)", closedAt.Sub(exp))
	}
	if total != atClose {
		t.Errorf("queries after it was closed: got %d, want none", total-atClose)
	}
}

// TestLifecycleSettlesWithin15Minutes is the bound that matters to a shop:
// with every notification lost, a payment made at any moment before the
// attempt's expiry is settled within 15 minutes of it, so long before the
// gateway's retries would have ended (3 h 07 m after the payment). The
// moments are one per minute across the 2 hours, each a second after a
// whole minute (so just after a query that found the attempt unpaid, for
// the queries on whole minutes), and the last second before expiry.
func TestLifecycleSettlesWithin15Minutes(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, envOptions{faults: func(string) gatewaytest.Faults { return gatewaytest.Faults{NoNotify: true} }})
	type payment struct {
		otn       string
		at        time.Time
		settledAt time.Time
	}
	var pays []*payment
	var events []event
	for i := 0; i <= 120; i++ {
		id := fmt.Sprintf("LATE%03d", i)
		l.e.AddOrder(id, mchA, 100)
		otn := l.e.MustPreOrder(t, model.V2, id, model.PayWeChat)
		at := l.start.Add(time.Duration(i)*time.Minute + time.Second)
		if i == 120 {
			at = l.e.Get(t, otn).ExpiresAt.Add(-time.Second)
		}
		p := &payment{otn: otn, at: at}
		pays = append(pays, p)
		events = append(events, event{at: at, do: func() {
			if err := l.e.Sim.Pay(p.otn); err != nil {
				t.Errorf("pay %s at +%v: %v", p.otn, p.at.Sub(l.start), err)
			}
		}})
	}
	l.run(l.start.Add(3*time.Hour), events, func(now time.Time) {
		for _, p := range pays {
			if p.settledAt.IsZero() && !p.at.After(now) && l.e.Get(t, p.otn).Status == store.Paid {
				p.settledAt = now
			}
		}
	})
	var worst time.Duration
	var worstAt time.Time
	for _, p := range pays {
		if p.settledAt.IsZero() {
			t.Errorf("payment at +%v (%s): never settled", p.at.Sub(l.start), p.otn)
			continue
		}
		d := p.settledAt.Sub(p.at)
		if d > worst {
			worst, worstAt = d, p.at
		}
		if d > 15*time.Minute || d >= 3*time.Hour+7*time.Minute {
			t.Errorf("payment at +%v (%s): settled %v later, want within 15 min", p.at.Sub(l.start), p.otn, d)
		}
	}
	if n := len(l.e.Sim.Deliveries(pays[0].otn)); n != 0 {
		t.Errorf("notifications delivered: got %d, want none (all lost)", n)
	}
	t.Logf("%d payments over the 2 h life, notifications all lost: worst settled %v after payment (paid at +%v); %d gateway queries in all",
		len(pays), worst, worstAt.Sub(l.start), len(l.g.calls()))
}

// TestLifecycleNoExpiryKeepsMaxAge: an attempt recorded without an expiry
// (before the store kept one) keeps the old schedule: its tail widens past
// 15 minutes, it is still PENDING hours after 2 hours, and it is closed at
// MaxAge.
func TestLifecycleNoExpiryKeepsMaxAge(t *testing.T) {
	t.Parallel()
	l := newLifecycle(t, envOptions{})
	otn := l.e.legacyAttempt(t, "LEGACY01")
	l.run(l.start.Add(3*time.Hour), nil, nil)
	// 5 s … 120 s (24), then 3, 8, 23, 53 min and 1 h 53 min.
	if got, want := l.queries(otn), 29; got != want {
		t.Errorf("queries in 3 h: got %d, want %d (the MaxAge schedule)", got, want)
	}
	if got := l.e.Get(t, otn).Status; got != store.Pending {
		t.Errorf("after 3 h: got %s, want PENDING (closed only at MaxAge)", got)
	}
	l.run(l.start.Add(24*time.Hour+time.Minute), nil, nil)
	if got := l.e.Get(t, otn).Status; got != store.Closed {
		t.Errorf("after MaxAge: got %s, want CLOSED", got)
	}
}
