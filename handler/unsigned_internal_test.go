package handler

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cypaykit/kit/client"
)

// TestUnsignedStreak: the alert is due at the 3rd, 6th, 12th, 24th …
// unverifiable reply in a row; a verified reply starts the count again,
// and errors that prove nothing (the network, a plain error reply) leave
// it as it is.
func TestUnsignedStreak(t *testing.T) {
	t.Parallel()
	unsigned := fmt.Errorf("query: %w", &client.Unverified{Op: "orderquery", Reason: client.ErrUnsigned})
	badSign := fmt.Errorf("query: %w", &client.Unverified{Op: "orderquery", Reason: client.ErrResponseSign})
	network := fmt.Errorf("%w: reset", client.ErrUnknownOutcome)
	plain := &client.GatewayError{Op: "orderquery", Code: "20006"}

	var s ReplyStreak
	var due []int64
	for i := 0; i < 100; i++ {
		err := unsigned
		if i%2 == 1 {
			err = badSign
		}
		if n, ok := s.note(err); ok {
			due = append(due, n)
		}
		// Neither of these counts or resets.
		s.note(network)
		s.note(plain)
	}
	if fmt.Sprint(due) != "[3 6 12 24 48 96]" {
		t.Errorf("alerts due at %v, want [3 6 12 24 48 96]", due)
	}
	if n, ok := s.note(nil); n != 0 || ok {
		t.Errorf("after a verified reply: got %d, %v", n, ok)
	}
	for i := 1; i <= 3; i++ {
		if n, ok := s.note(unsigned); n != int64(i) || ok != (i == 3) {
			t.Errorf("reply %d after the reset: got %d, %v", i, n, ok)
		}
	}
	if _, ok := s.note(errors.New("other")); ok {
		t.Error("an unrelated error made an alert due")
	}
}
