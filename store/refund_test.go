package store_test

import (
	"testing"

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
