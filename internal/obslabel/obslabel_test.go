package obslabel_test

import (
	"strings"
	"testing"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/internal/obslabel"
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
