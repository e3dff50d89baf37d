package obslabel_test

import (
	"strings"
	"testing"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/observe/internal/obslabel"
	"github.com/cypaykit/kit/refund"
)

// TestEveryOutcomeListed fails when handler gains an Outcome that the
// label set does not know, which would report it as "other".
func TestEveryOutcomeListed(t *testing.T) {
	for o := handler.Outcome(0); o < 64; o++ {
		if strings.HasPrefix(o.String(), "outcome(") {
			continue
		}
		if got := obslabel.Outcome(o); got != o.String() {
			t.Errorf("Outcome(%v): got %q, want %q: add it to Outcomes", o, got, o.String())
		}
	}
	if got := obslabel.Outcome(handler.Outcome(999)); got != obslabel.Other {
		t.Errorf("unknown outcome: got %q, want %q", got, obslabel.Other)
	}
}

// TestRefundResultsClosed proves every RefundResult is its own label and
// anything else is "other".
func TestRefundResultsClosed(t *testing.T) {
	for _, r := range refund.Results() {
		if got := obslabel.RefundResult(r); got != string(r) {
			t.Errorf("RefundResult(%q): got %q", r, got)
		}
	}
	if got := obslabel.RefundResult("ORDER00001"); got != obslabel.Other {
		t.Errorf("unknown refund result: got %q, want %q", got, obslabel.Other)
	}
}

// TestRefundChangeAlertListed: the refund CHANGE alert is counted under
// its own kind, not "other".
func TestRefundChangeAlertListed(t *testing.T) {
	if got := obslabel.AlertKind(handler.AlertRefundChange); got != string(handler.AlertRefundChange) {
		t.Errorf("AlertKind(AlertRefundChange): got %q, want %q", got, handler.AlertRefundChange)
	}
}
