package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
)

// closerTests run against a Store that implements store.Closer.
var closerTests = []closerTest{
	{"Abandon", testAbandon},
	{"AbandonNotPending", testAbandonNotPending},
	{"AbandonThenSettle", testAbandonThenSettle},
	{"AbandonSettleRace", testAbandonSettleRace},
	{"Reverse", testReverse},
	{"ReverseNotAllowed", testReverseNotAllowed},
}

type closerTest struct {
	name string
	fn   func(t *testing.T, s store.Closer)
}

// abandoned returns o as Abandon(now) should leave it.
func abandoned(o *store.Order, now time.Time) *store.Order {
	w := *o
	w.AbandonedAt, w.Reason, w.UpdatedAt = now, "gone", now
	return &w
}

func testAbandon(t *testing.T, s store.Closer) {
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	if err := s.Abandon(context.Background(), o.OutTradeNo, "gone", at(5)); err != nil {
		t.Fatalf("Abandon: got %v, want nil", err)
	}
	want := abandoned(o, at(5))
	wantOrder(t, s, want)
	// A repeat keeps the first time.
	if err := s.Abandon(context.Background(), o.OutTradeNo, "again", at(9)); err != nil {
		t.Fatalf("Abandon again: got %v, want nil", err)
	}
	wantOrder(t, s, want)
	wantErr(t, "Abandon(unknown)", s.Abandon(context.Background(), "NOSUCHORDER", "gone", at(9)), store.ErrNotFound)
}

func testAbandonNotPending(t *testing.T, s store.Closer) {
	for _, otn := range paidAndClosed(t, s) {
		before := get(t, s, otn)
		wantErr(t, "Abandon("+string(before.Status)+")", s.Abandon(context.Background(), otn, "gone", at(9)), store.ErrConflict)
		wantOrder(t, s, before)
	}
}

// testAbandonThenSettle: a payment that lands on an abandoned attempt
// settles it, and the mark stays, so the payment is known to be a second
// one; it can then be reversed.
func testAbandonThenSettle(t *testing.T, s store.Closer) {
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	if err := s.Abandon(context.Background(), o.OutTradeNo, "gone", at(5)); err != nil {
		t.Fatal(err)
	}
	settle(t, s, o.OutTradeNo, payment("T1"), at(6))
	want := paid(abandoned(o, at(5)), payment("T1"), at(6))
	wantOrder(t, s, want)
	if err := s.Reverse(context.Background(), o.OutTradeNo, "reversed", at(7)); err != nil {
		t.Fatalf("Reverse(PAID, abandoned): got %v, want nil", err)
	}
	want.Status, want.Reason, want.UpdatedAt = store.Reversed, "reversed", at(7)
	wantOrder(t, s, want)
}

// testAbandonSettleRace: Abandon and Settle racing on one attempt end
// either PAID and not abandoned (Abandon refused) or abandoned (and PAID,
// the mark kept): never an Abandon that succeeded on a mark that was lost.
func testAbandonSettleRace(t *testing.T, s store.Closer) {
	for n := range 8 {
		o := newOrder(fmt.Sprintf("RACE%d", n), 1)
		create(t, s, o)
		var abandonErr atomic.Value
		race(func(i int) {
			if i == 0 {
				if err := s.Abandon(context.Background(), o.OutTradeNo, "gone", at(5)); err != nil {
					abandonErr.Store(err)
				}
				return
			}
			_, _ = s.Settle(context.Background(), o.OutTradeNo, payment("T1"), at(6))
		})
		got := get(t, s, o.OutTradeNo)
		if got.Status != store.Paid {
			t.Fatalf("after the race: got %s, want PAID", got.Status)
		}
		err, _ := abandonErr.Load().(error)
		switch {
		case err == nil && got.AbandonedAt.IsZero():
			t.Errorf("Abandon succeeded but the PAID attempt is not marked abandoned")
		case err != nil && !got.AbandonedAt.IsZero():
			t.Errorf("Abandon failed (%v) but the attempt is marked abandoned", err)
		case err != nil:
			wantErr(t, "Abandon (lost the race)", err, store.ErrConflict)
		}
	}
}

func testReverse(t *testing.T, s store.Closer) {
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	if err := s.Reverse(context.Background(), o.OutTradeNo, "cancelled: reversed", at(5)); err != nil {
		t.Fatalf("Reverse(PENDING): got %v, want nil", err)
	}
	want := *o
	want.Status, want.Reason, want.UpdatedAt = store.Reversed, "cancelled: reversed", at(5)
	wantOrder(t, s, &want)
	if err := s.Reverse(context.Background(), o.OutTradeNo, "again", at(9)); err != nil {
		t.Fatalf("Reverse again: got %v, want nil", err)
	}
	wantOrder(t, s, &want)
	settled, err := s.Settle(context.Background(), o.OutTradeNo, payment("T1"), at(10))
	if settled {
		t.Errorf("Settle(REVERSED): got settled=true")
	}
	wantErr(t, "Settle(REVERSED)", err, store.ErrConflict)
	wantErr(t, "Reverse(unknown)", s.Reverse(context.Background(), "NOSUCHORDER", "x", at(9)), store.ErrNotFound)
}

// testReverseNotAllowed: a PAID attempt that was not abandoned may have
// been fulfilled, and a finished one has nothing to reverse.
func testReverseNotAllowed(t *testing.T, s store.Closer) {
	for _, otn := range paidAndClosed(t, s) {
		before := get(t, s, otn)
		wantErr(t, "Reverse("+string(before.Status)+")", s.Reverse(context.Background(), otn, "x", at(9)), store.ErrConflict)
		wantOrder(t, s, before)
	}
}

// paidAndClosed creates two attempts of one business order, the first
// PAID (at 3) and the second CLOSED (at 4), and returns their numbers: the
// two states from which neither Abandon nor Reverse may move an attempt.
func paidAndClosed(t *testing.T, s store.OrderStore) []string {
	t.Helper()
	p := newOrder("BIZ1", 1)
	create(t, s, p)
	settle(t, s, p.OutTradeNo, payment("T1"), at(3))
	c := newOrder("BIZ1", 2)
	create(t, s, c)
	finish(t, s, c.OutTradeNo, store.Closed, at(4))
	return []string{p.OutTradeNo, c.OutTradeNo}
}
