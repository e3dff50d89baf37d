package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
)

// The refund state machine and the refund numbers are shared by every
// store; these tables pin them on their own, so that a planted bug in them
// fails this package's tests and not only a store's conformance run.

var refundStates = []store.RefundState{
	store.RefundPending, store.RefundProcessing, store.RefundNotSure,
	store.RefundSucceeded, store.RefundFailed, store.RefundChanged,
}

func TestRefundStateFinal(t *testing.T) {
	final := map[store.RefundState]bool{store.RefundSucceeded: true, store.RefundFailed: true, store.RefundChanged: true}
	for _, s := range append(refundStates, "", "UNKNOWN") {
		if got := s.Final(); got != final[s] {
			t.Errorf("%q.Final(): got %v, want %v", s, got, final[s])
		}
	}
}

// TestRefundAllowed: in flight moves anywhere known; a final state only to
// itself; nothing moves to a state the kit does not know.
func TestRefundAllowed(t *testing.T) {
	for _, from := range refundStates {
		for _, to := range append(refundStates, "", "REFUNDED") {
			known := to != "" && to != "REFUNDED"
			want := known && (!from.Final() || from == to)
			if got := store.RefundAllowed(from, to); got != want {
				t.Errorf("RefundAllowed(%s, %q): got %v, want %v", from, to, got, want)
			}
		}
	}
}

// TestRefundable: only PAID takes a refund, and FAILED or CLOSED only for
// a payment that landed after the close.
func TestRefundable(t *testing.T) {
	for _, st := range []store.Status{store.Pending, store.Paid, store.Failed, store.Closed, store.Refunded} {
		for _, afterClose := range []bool{false, true} {
			want := st == store.Paid || (afterClose && (st == store.Failed || st == store.Closed))
			if got := store.Refundable(st, afterClose); got != want {
				t.Errorf("Refundable(%s, afterClose=%v): got %v, want %v", st, afterClose, got, want)
			}
		}
	}
}

func TestRefundNo(t *testing.T) {
	const long = "A2345678901234567890123456789012345678901234567890"
	tests := []struct {
		otn  string
		seq  int
		want string
	}{
		{"ABC", 1, "ABC-01"},
		{"ABC", 9, "ABC-09"},
		{"ABC", 10, "ABC-10"},
		{"ABC", 100, "ABC-100"},
		{"A2345678901234567890123456789", 1, "A2345678901234567890123456789-01"}, // exactly 32
		{"A23456789012345678901234567890", 1, "A2345678901234567890154a479ec-01"},
		{"A234567890123456789012345678901", 1, "A234567890123456789011bebd6e7-01"},
		{long, 7, "A234567890123456789018e0c2744-07"},
		{long, 123, "A23456789012345678908e0c2744-123"},
	}
	for _, tc := range tests {
		got := store.RefundNo(tc.otn, tc.seq)
		if got != tc.want {
			t.Errorf("RefundNo(%q, %d): got %q, want %q", tc.otn, tc.seq, got, tc.want)
		}
		if len(got) > store.MaxRefundNo {
			t.Errorf("RefundNo(%q, %d): %d characters, want at most %d", tc.otn, tc.seq, len(got), store.MaxRefundNo)
		}
	}
	// Shortened numbers still tell attempts and refunds apart.
	seen := map[string]bool{}
	for _, otn := range []string{long, long + "1", long[:31], long[:30]} {
		for seq := 1; seq <= 12; seq++ {
			n := store.RefundNo(otn, seq)
			if seen[n] {
				t.Errorf("RefundNo(%q, %d) = %q: already given", otn, seq, n)
			}
			seen[n] = true
		}
	}
}

// claimed is a refund in state st whose claim "tok" runs until an hour
// after t0, with every field Apply may write already set.
func claimed(st store.RefundState, t0 time.Time) store.Refund {
	return store.Refund{
		OutRefundNo: "ABC01-01", OutTradeNo: "ABC01", Amount: 100, State: st,
		RefundID: "R-OLD", RefundedAt: t0.Add(-time.Hour), Tries: 2, Note: "old",
		NextDue: t0.Add(time.Minute), ClaimToken: "tok", ClaimUntil: t0.Add(time.Hour),
		CreatedAt: t0.Add(-2 * time.Hour), UpdatedAt: t0.Add(-time.Minute),
	}
}

// TestRefundApplyRefuses: a final state moves to nothing else (FAIL and
// CHANGE as much as SUCCESS), nothing moves to a state the kit does not
// know, and only the live claim's token writes; a refused update leaves
// the refund exactly as it was. Recording a final state again changes
// nothing and is no error.
func TestRefundApplyRefuses(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	u := func(st store.RefundState) store.RefundUpdate {
		return store.RefundUpdate{State: st, RefundID: "R-NEW", Note: "new", Tried: 1, NextDue: t0.Add(time.Hour), Release: true}
	}
	for _, from := range refundStates {
		for _, to := range append(refundStates, "UNKNOWN") {
			r := claimed(from, t0)
			changed, err := r.Apply(u(to), "tok", t0)
			switch {
			case from.Final() && from == to:
				if changed || err != nil || r != claimed(from, t0) {
					t.Errorf("%s again: got changed %v, err %v, refund %+v; want unchanged, no error", from, changed, err, r)
				}
			case from.Final() || to == "UNKNOWN":
				if changed || !errors.Is(err, store.ErrConflict) || r != claimed(from, t0) {
					t.Errorf("%s to %s: got changed %v, err %v, refund %+v; want ErrConflict and the refund unchanged", from, to, changed, err, r)
				}
			default:
				if !changed || err != nil || r.State != to {
					t.Errorf("%s to %s: got changed %v, err %v, state %s; want it recorded", from, to, changed, err, r.State)
				}
			}
		}
	}
	for name, tc := range map[string]struct {
		token string
		mod   func(r *store.Refund)
	}{
		"empty token":           {"", nil},
		"empty token, no claim": {"", func(r *store.Refund) { r.ClaimToken = "" }},
		"another's token":       {"other", nil},
		"claim ends now":        {"tok", func(r *store.Refund) { r.ClaimUntil = t0 }},
		"claim ended":           {"tok", func(r *store.Refund) { r.ClaimUntil = t0.Add(-time.Second) }},
	} {
		r := claimed(store.RefundPending, t0)
		if tc.mod != nil {
			tc.mod(&r)
		}
		want := r
		changed, err := r.Apply(u(store.RefundSucceeded), tc.token, t0)
		if changed || !errors.Is(err, store.ErrNotHeld) || r != want {
			t.Errorf("%s: got changed %v, err %v, refund %+v; want ErrNotHeld and the refund unchanged", name, changed, err, r)
		}
	}
}

// TestRefundApplyWrites: what an accepted update writes, field by field.
func TestRefundApplyWrites(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	later, paidBack := t0.Add(3*time.Hour), t0.Add(-time.Minute)
	for name, tc := range map[string]struct {
		from store.RefundState
		u    store.RefundUpdate
		want func(r *store.Refund)
	}{
		"in flight, claim kept; empty RefundID and RefundedAt keep theirs": {
			store.RefundPending, store.RefundUpdate{State: store.RefundProcessing, Note: "accepted", Tried: 2, NextDue: later},
			func(r *store.Refund) {
				r.State, r.Note, r.Tries, r.NextDue = store.RefundProcessing, "accepted", 4, later
			},
		},
		"in flight, released; an empty note is written": {
			store.RefundProcessing, store.RefundUpdate{State: store.RefundNotSure, Tried: 1, NextDue: later, Release: true},
			func(r *store.Refund) {
				r.State, r.Note, r.Tries, r.NextDue = store.RefundNotSure, "", 3, later
				r.ClaimToken, r.ClaimUntil = "", time.Time{}
			},
		},
		"SUCCESS: new RefundID and RefundedAt; NextDue ignored; claim cleared": {
			store.RefundProcessing, store.RefundUpdate{State: store.RefundSucceeded, RefundID: "R-NEW", RefundedAt: paidBack, Note: "SUCCESS", Tried: 1, NextDue: later},
			func(r *store.Refund) {
				r.State, r.RefundID, r.RefundedAt, r.Note, r.Tries = store.RefundSucceeded, "R-NEW", paidBack, "SUCCESS", 3
				r.ClaimToken, r.ClaimUntil = "", time.Time{}
			},
		},
		"FAIL: NextDue ignored; claim cleared": {
			store.RefundNotSure, store.RefundUpdate{State: store.RefundFailed, Note: "FAIL", NextDue: later},
			func(r *store.Refund) {
				r.State, r.Note = store.RefundFailed, "FAIL"
				r.ClaimToken, r.ClaimUntil = "", time.Time{}
			},
		},
		"CHANGE: NextDue ignored; claim cleared": {
			store.RefundPending, store.RefundUpdate{State: store.RefundChanged, Note: "CHANGE", Tried: 1, NextDue: later},
			func(r *store.Refund) {
				r.State, r.Note, r.Tries = store.RefundChanged, "CHANGE", 3
				r.ClaimToken, r.ClaimUntil = "", time.Time{}
			},
		},
	} {
		r := claimed(tc.from, t0)
		want := claimed(tc.from, t0)
		tc.want(&want)
		want.UpdatedAt = t0
		changed, err := r.Apply(tc.u, "tok", t0)
		if !changed || err != nil {
			t.Errorf("%s: got changed %v, err %v; want it recorded", name, changed, err)
		}
		if r != want {
			t.Errorf("%s:\ngot  %+v\nwant %+v", name, r, want)
		}
	}
}
