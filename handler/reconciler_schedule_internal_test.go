package handler

import (
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store/memstore"
)

func newTestReconciler(t *testing.T, cfg ReconcilerConfig) *Reconciler {
	t.Helper()
	s, err := NewSettler(SettlerConfig{Store: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{GatewayURL: "http://127.0.0.1:1", OpenURL: "http://127.0.0.1:1", Version: model.V2,
		Keys: client.Keyring{AgentID: "A1", AgentKey: "k", MerchantKeys: client.StaticMerchantKeys(nil)}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Settler, cfg.Client = s, c
	r, err := NewReconciler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// queryAges lists the ages at which the schedule queries an attempt the
// gateway keeps reporting unpaid, up to and including the query at MaxAge
// that closes it.
func queryAges(r *Reconciler) []time.Duration {
	var ages []time.Duration
	for age := r.nextAt(0, 0); ; age = r.nextAt(age, 0) {
		ages = append(ages, age)
		if age >= r.maxAge {
			return ages
		}
	}
}

// TestQueriesPerAbandonedAttempt computes, from the schedule itself, what
// an abandoned attempt costs the gateway over its 24 hours: the figure the
// README states, against 312 for a query every 5 minutes after the fast
// window.
func TestQueriesPerAbandonedAttempt(t *testing.T) {
	r := newTestReconciler(t, ReconcilerConfig{})
	ages := queryAges(r)
	if got, want := len(ages), 36; got != want {
		t.Errorf("queries per abandoned attempt over 24 h: got %d, want %d (the README's figure)\nages: %v", got, want, ages)
	}
	if len(ages)*5 > 312 {
		t.Errorf("queries per abandoned attempt: got %d, want a small fraction of 312", len(ages))
	}
	fast := 0
	for _, a := range ages {
		if a <= 120*time.Second {
			fast++
		}
	}
	if fast != 24 {
		t.Errorf("queries in the 120 s fast window: got %d, want 24 (every 5 s from 5 s)", fast)
	}
	if last := ages[len(ages)-1]; last != 24*time.Hour {
		t.Errorf("last query: got age %v, want exactly MaxAge", last)
	}
}

// TestScheduleGrid: queries fall on a grid counted from creation, so a
// pass that runs late does not push the later ones back; the tail widens
// step by step and its last step repeats.
func TestScheduleGrid(t *testing.T) {
	r := newTestReconciler(t, ReconcilerConfig{FastWindow: 60 * time.Second, TailSteps: []time.Duration{time.Minute, 10 * time.Minute}, MaxAge: time.Hour})
	s := time.Second
	tests := []struct{ age, want time.Duration }{
		{0, 5 * s},
		{4 * s, 5 * s},
		{5 * s, 10 * s},
		{7 * s, 10 * s}, // a late pass keeps the grid
		{59 * s, 60 * s},
		{60 * s, 120 * s},
		{119 * s, 120 * s},
		{120 * s, 720 * s},
		{720 * s, 1320 * s},
		{3500 * s, time.Hour}, // MaxAge is the last point
		{time.Hour, time.Hour + 10*time.Minute},
		{2 * time.Hour, 2*time.Hour + 10*time.Minute}, // a failing query past MaxAge: keep asking
	}
	for _, tc := range tests {
		if got := r.nextAt(tc.age, 0); got != tc.want {
			t.Errorf("nextAt(%v): got %v, want %v", tc.age, got, tc.want)
		}
	}
}

// TestScheduleWithExpiry: with an expiry the tail never steps more than
// 15 minutes less Interval, the last point is one closing query a minute
// after expiry, and a 2-hour attempt costs at most 36 queries; a life
// shorter than the fast window ends inside it; a closing query that fails
// is asked again at the capped last step.
func TestScheduleWithExpiry(t *testing.T) {
	r := newTestReconciler(t, ReconcilerConfig{})
	life := 2 * time.Hour
	var ages []time.Duration
	for age := r.nextAt(0, life); ; age = r.nextAt(age, life) {
		ages = append(ages, age)
		if age >= life+closeGrace {
			break
		}
	}
	t.Logf("abandoned 2 h attempt: %d queries at ages %v", len(ages), ages)
	if n := len(ages); n > 36 {
		t.Errorf("queries of an abandoned 2 h attempt: got %d, want at most 36\nages: %v", n, ages)
	}
	if last := ages[len(ages)-1]; last != life+closeGrace {
		t.Errorf("closing query at age %v, want %v", last, life+closeGrace)
	}
	for i := 1; i < len(ages); i++ {
		if gap := ages[i] - ages[i-1]; gap > settleWithin-r.interval {
			t.Errorf("gap %v → %v is %v, want at most %v", ages[i-1], ages[i], gap, settleWithin-r.interval)
		}
	}
	short := time.Minute
	if got := r.nextAt(115*time.Second, short); got != 2*time.Minute {
		t.Errorf("1-minute life: nextAt(115s) = %v, want the closing query at 2m", got)
	}
	if got := r.nextAt(life+closeGrace, life); got != life+closeGrace+settleWithin-r.interval {
		t.Errorf("after a failed closing query: nextAt = %v, want %v", got, life+closeGrace+settleWithin-r.interval)
	}
}
