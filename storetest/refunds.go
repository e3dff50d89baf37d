package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/google/go-cmp/cmp"
)

var refundTests = []refundTest{
	{"RefundReserve", testRefundReserve},
	{"RefundReserveNotPaid", testRefundReserveNotPaid},
	{"RefundAfterClose", testRefundAfterClose},
	{"RefundAmountRange", testRefundAmountRange},
	{"RefundIdempotency", testRefundIdempotency},
	{"RefundConcurrentTotals", testRefundConcurrentTotals},
	{"RefundConcurrentSameKey", testRefundConcurrentSameKey},
	{"RefundFailReleases", testRefundFailReleases},
	{"RefundStateMachine", testRefundStateMachine},
	{"RefundFailChangeFinal", testRefundFailChangeFinal},
	{"RefundFullyRefunded", testRefundFullyRefunded},
	{"RefundFencedWrites", testRefundFencedWrites},
	{"RefundClaimDue", testRefundClaimDue},
	{"RefundClaimTies", testRefundClaimTies},
	{"RefundClaimConcurrent", testRefundClaimConcurrent},
	{"RefundContextCanceled", testRefundContextCanceled},
}

type refundTest struct {
	name string
	fn   func(t *testing.T, s store.OrderStore, r store.RefundStore)
}

// refundConcurrency is how many partial refunds race on one attempt.
const refundConcurrency = 100

// lease is the claim time the refund and schedule tests give: longer
// than any test's steps, so a claim only ends when a test moves its clock
// past it on purpose.
const lease = time.Minute

// paidOrder creates and settles attempt 1 of biz for amount fen.
func paidOrder(t testing.TB, s store.OrderStore, biz string, amount int64) *store.Order {
	t.Helper()
	o := newOrder(biz, 1)
	o.Amount = amount
	create(t, s, o)
	settle(t, s, o.OutTradeNo, payment("T"+biz), at(2))
	return get(t, s, o.OutTradeNo)
}

func refundReq(o *store.Order, amount int64, key string) *store.Refund {
	return &store.Refund{
		OutTradeNo: o.OutTradeNo, Amount: amount, Reason: "test", IdempotencyKey: key,
		CreatedAt: at(10), UpdatedAt: at(10), NextDue: at(70),
	}
}

func reserve(t testing.TB, r store.RefundStore, req *store.Refund) *store.Refund {
	t.Helper()
	ref, created, err := r.ReserveRefund(context.Background(), req, lease, at(10))
	if err != nil || !created {
		t.Fatalf("ReserveRefund(%s, %d): got (created=%v, %v), want (true, nil)", req.OutTradeNo, req.Amount, created, err)
	}
	return ref
}

func wantTotals(t testing.TB, r store.RefundStore, outTradeNo string, want store.RefundTotals) {
	t.Helper()
	got, err := r.RefundTotals(context.Background(), outTradeNo)
	if err != nil {
		t.Fatalf("RefundTotals(%s): %v", outTradeNo, err)
	}
	if got != want {
		t.Errorf("RefundTotals(%s): got %+v, want %+v", outTradeNo, got, want)
	}
}

func update(t testing.TB, r store.RefundStore, ref *store.Refund, tok string, st store.RefundState, now time.Time) *store.Refund {
	t.Helper()
	got, err := r.UpdateRefund(context.Background(), ref.OutRefundNo, tok, store.RefundUpdate{State: st, Tried: 1, NextDue: now.Add(time.Minute)}, now)
	if err != nil {
		t.Fatalf("UpdateRefund(%s, %s): got error %v, want nil", ref.OutRefundNo, st, err)
	}
	return got
}

func testRefundReserve(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	ref := reserve(t, r, refundReq(o, 300, "K1"))
	if ref.ClaimToken == "" || !ref.ClaimUntil.Equal(at(10).Add(lease)) {
		t.Errorf("reserved refund claim: got (%q, %v), want a token until %v", ref.ClaimToken, ref.ClaimUntil, at(10).Add(lease))
	}
	want := &store.Refund{
		OutRefundNo: store.RefundNo(o.OutTradeNo, 1), OutTradeNo: o.OutTradeNo, BusinessID: o.BusinessID,
		MchID: o.MchID, Channel: o.Channel, Version: o.Version, OrderAmount: 1000, Seq: 1, Amount: 300,
		Reason: "test", IdempotencyKey: "K1", State: store.RefundPending,
		NextDue: at(70), ClaimUntil: at(10).Add(lease), CreatedAt: at(10), UpdatedAt: at(10),
	}
	got, err := r.GetRefund(context.Background(), ref.OutRefundNo)
	if err != nil {
		t.Fatalf("GetRefund: %v", err)
	}
	if diff := diffRefund(want, got); diff != "" {
		t.Errorf("GetRefund (-want +got):\n%s", diff)
	}
	got.Amount = 1
	if again, _ := r.GetRefund(context.Background(), ref.OutRefundNo); again.Amount != 300 {
		t.Errorf("GetRefund after changing the returned copy: got amount %d, want 300 (store aliases its refunds)", again.Amount)
	}
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 300})
	second := reserve(t, r, refundReq(o, 200, ""))
	if second.Seq != 2 || second.OutRefundNo != store.RefundNo(o.OutTradeNo, 2) {
		t.Errorf("second refund: got seq %d number %q, want 2 and %q", second.Seq, second.OutRefundNo, store.RefundNo(o.OutTradeNo, 2))
	}
	list, err := r.ListRefunds(context.Background(), o.OutTradeNo)
	if err != nil || len(list) != 2 || list[0].Seq != 1 || list[1].Seq != 2 {
		t.Fatalf("ListRefunds: got %d refunds (%v), want seq 1 and 2", len(list), err)
	}
	for _, x := range list {
		if x.ClaimToken != "" {
			t.Errorf("ListRefunds: refund %s shows its claim token", x.OutRefundNo)
		}
	}
	if _, err := r.GetRefund(context.Background(), "NOPE-01"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefund(unknown): got %v, want %v", err, store.ErrNotFound)
	}
	if l, err := r.ListRefunds(context.Background(), "NOPE"); err != nil || l == nil || len(l) != 0 {
		t.Errorf("ListRefunds(unknown): got (%v, %v), want an empty slice", l, err)
	}
}

func diffRefund(want, got *store.Refund) string {
	w, g := *want, *got
	w.ClaimToken, g.ClaimToken = "", ""
	if w.ClaimUntil.IsZero() != g.ClaimUntil.IsZero() {
		return fmt.Sprintf("ClaimUntil: want %v, got %v", w.ClaimUntil, g.ClaimUntil)
	}
	return cmp.Diff(w, g, sameInstant)
}

func testRefundReserveNotPaid(t *testing.T, s store.OrderStore, r store.RefundStore) {
	pending := newOrder("BIZ1", 1)
	create(t, s, pending)
	closed := newOrder("BIZ2", 1)
	create(t, s, closed)
	finish(t, s, closed.OutTradeNo, store.Closed, at(3))
	for _, o := range []*store.Order{pending, closed} {
		_, _, err := r.ReserveRefund(context.Background(), refundReq(o, 1, ""), lease, at(10))
		wantErr(t, "ReserveRefund("+string(o.Status)+")", err, store.ErrNotRefundable)
		wantTotals(t, r, o.OutTradeNo, store.RefundTotals{})
	}
	_, _, err := r.ReserveRefund(context.Background(), refundReq(newOrder("NOPE", 1), 1, ""), lease, at(10))
	wantErr(t, "ReserveRefund(unknown)", err, store.ErrNotFound)
}

func testRefundAfterClose(t *testing.T, s store.OrderStore, r store.RefundStore) {
	pending := newOrder("BIZ1", 1)
	create(t, s, pending)
	closed := newOrder("BIZ2", 1)
	create(t, s, closed)
	finish(t, s, closed.OutTradeNo, store.Closed, at(3))
	failed := newOrder("BIZ3", 1)
	create(t, s, failed)
	finish(t, s, failed.OutTradeNo, store.Failed, at(3))
	req := refundReq(pending, 1, "")
	req.AfterClose = true
	_, _, err := r.ReserveRefund(context.Background(), req, lease, at(10))
	wantErr(t, "ReserveRefund(PENDING, after close)", err, store.ErrNotRefundable)
	for _, o := range []*store.Order{closed, failed} {
		req := refundReq(o, o.Amount, "")
		req.AfterClose = true
		ref := reserve(t, r, req)
		if got, _ := r.GetRefund(context.Background(), ref.OutRefundNo); !got.AfterClose {
			t.Errorf("GetRefund(%s): AfterClose lost", ref.OutRefundNo)
		}
		over := refundReq(o, 1, "")
		over.AfterClose = true
		_, _, err := r.ReserveRefund(context.Background(), over, lease, at(10))
		wantErr(t, "ReserveRefund(after close, over the amount)", err, store.ErrRefundAmount)
		update(t, r, ref, ref.ClaimToken, store.RefundSucceeded, at(20))
		if got := get(t, s, o.OutTradeNo).Status; got != o.Status && got != store.Closed && got != store.Failed {
			t.Errorf("attempt %s after its refund: got %s, want it to stay closed", o.OutTradeNo, got)
		}
	}
}

func testRefundAmountRange(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	for _, amount := range []int64{0, -1, 1001} {
		_, _, err := r.ReserveRefund(context.Background(), refundReq(o, amount, ""), lease, at(10))
		wantErr(t, fmt.Sprintf("ReserveRefund(%d of 1000)", amount), err, store.ErrRefundAmount)
	}
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{})
	reserve(t, r, refundReq(o, 600, ""))
	_, _, err := r.ReserveRefund(context.Background(), refundReq(o, 401, ""), lease, at(10))
	wantErr(t, "ReserveRefund(401 with 600 of 1000 reserved)", err, store.ErrRefundAmount)
	reserve(t, r, refundReq(o, 400, ""))
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 1000})
}

func testRefundIdempotency(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	other := paidOrder(t, s, "BIZ2", 1000)
	first := reserve(t, r, refundReq(o, 300, "K1"))
	again, created, err := r.ReserveRefund(context.Background(), refundReq(o, 300, "K1"), lease, at(20))
	if err != nil || created {
		t.Fatalf("ReserveRefund(same key): got (created=%v, %v), want (false, nil)", created, err)
	}
	if again.OutRefundNo != first.OutRefundNo || again.ClaimToken != "" {
		t.Errorf("ReserveRefund(same key): got %q token %q, want %q without a token", again.OutRefundNo, again.ClaimToken, first.OutRefundNo)
	}
	_, _, err = r.ReserveRefund(context.Background(), refundReq(o, 301, "K1"), lease, at(20))
	wantErr(t, "ReserveRefund(same key, other amount)", err, store.ErrKeyReused)
	_, _, err = r.ReserveRefund(context.Background(), refundReq(other, 300, "K1"), lease, at(20))
	wantErr(t, "ReserveRefund(same key, other attempt)", err, store.ErrKeyReused)
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 300})
	wantTotals(t, r, other.OutTradeNo, store.RefundTotals{})
}

// testRefundConcurrentTotals races 100 partial refunds of 150 fen on a
// 10000 fen attempt: exactly 66 fit, whatever the interleaving.
func testRefundConcurrentTotals(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 10000)
	var ok atomic.Int32
	var mu sync.Mutex
	numbers := map[string]bool{}
	errs := make([]error, refundConcurrency)
	raceN(refundConcurrency, func(i int) {
		ref, created, err := r.ReserveRefund(context.Background(), refundReq(o, 150, ""), lease, at(10))
		if err != nil {
			errs[i] = err
			return
		}
		if created {
			ok.Add(1)
			mu.Lock()
			numbers[ref.OutRefundNo] = true
			mu.Unlock()
		}
	})
	for i, err := range errs {
		if err != nil && !errors.Is(err, store.ErrRefundAmount) {
			t.Errorf("ReserveRefund #%d: got error %v, want nil or %v", i, err, store.ErrRefundAmount)
		}
	}
	if n := ok.Load(); n != 66 {
		t.Errorf("%d concurrent refunds of 150 on 10000 fen: got %d reserved, want 66", refundConcurrency, n)
	}
	if len(numbers) != int(ok.Load()) {
		t.Errorf("got %d distinct out_refund_no for %d refunds", len(numbers), ok.Load())
	}
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 66 * 150})
}

func testRefundConcurrentSameKey(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 10000)
	var created atomic.Int32
	nos := make([]string, refundConcurrency)
	errs := make([]error, refundConcurrency)
	raceN(refundConcurrency, func(i int) {
		ref, c, err := r.ReserveRefund(context.Background(), refundReq(o, 100, "SAME"), lease, at(10))
		errs[i] = err
		if err == nil {
			nos[i] = ref.OutRefundNo
			if c {
				created.Add(1)
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("ReserveRefund #%d (same key): got error %v, want nil", i, err)
		} else if nos[i] != nos[0] && nos[0] != "" {
			t.Errorf("ReserveRefund #%d (same key): got %q, want %q like the others", i, nos[i], nos[0])
		}
	}
	if n := created.Load(); n != 1 {
		t.Errorf("%d concurrent refunds with one key: got %d created, want 1", refundConcurrency, n)
	}
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 100})
}

func testRefundFailReleases(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	ref := reserve(t, r, refundReq(o, 1000, ""))
	update(t, r, ref, ref.ClaimToken, store.RefundFailed, at(20))
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{})
	again := reserve(t, r, refundReq(o, 1000, ""))
	if again.OutRefundNo == ref.OutRefundNo || again.Seq != 2 {
		t.Errorf("refund after a FAIL: got %q seq %d, want a new number with seq 2", again.OutRefundNo, again.Seq)
	}
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 1000})
}

func testRefundStateMachine(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	ref := reserve(t, r, refundReq(o, 100, ""))
	tok := ref.ClaimToken
	for _, st := range []store.RefundState{store.RefundProcessing, store.RefundNotSure, store.RefundPending, store.RefundProcessing} {
		got := update(t, r, ref, tok, st, at(20))
		if got.State != st {
			t.Errorf("UpdateRefund(%s): got state %s", st, got.State)
		}
	}
	u := store.RefundUpdate{State: store.RefundSucceeded, RefundID: "R1", RefundedAt: at(30), Tried: 2}
	got, err := r.UpdateRefund(context.Background(), ref.OutRefundNo, tok, u, at(30))
	if err != nil {
		t.Fatalf("UpdateRefund(SUCCESS): %v", err)
	}
	if got.RefundID != "R1" || !sameTime(got.RefundedAt, at(30)) || got.Tries != 6 || got.ClaimToken != "" {
		t.Errorf("after SUCCESS: got id %q at %v tries %d token %q, want R1 at %v, 6 tries, no token", got.RefundID, got.RefundedAt, got.Tries, got.ClaimToken, at(30))
	}
	if _, err := r.UpdateRefund(context.Background(), ref.OutRefundNo, tok, u, at(31)); err != nil {
		t.Errorf("UpdateRefund(SUCCESS again): got %v, want nil (a no-op)", err)
	}
	for _, st := range []store.RefundState{store.RefundProcessing, store.RefundFailed, store.RefundPending, store.RefundChanged} {
		_, err := r.UpdateRefund(context.Background(), ref.OutRefundNo, tok, store.RefundUpdate{State: st}, at(40))
		wantErr(t, "UpdateRefund(SUCCESS to "+string(st)+")", err, store.ErrConflict)
	}
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 100, Refunded: 100})
	if got, _ := r.GetRefund(context.Background(), ref.OutRefundNo); got.State != store.RefundSucceeded || got.Tries != 6 {
		t.Errorf("refund after refused updates: got %s with %d tries, want SUCCESS with 6", got.State, got.Tries)
	}
	ch := reserve(t, r, refundReq(o, 100, ""))
	update(t, r, ch, ch.ClaimToken, store.RefundChanged, at(50))
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 200, Refunded: 100})
	if _, err := r.UpdateRefund(context.Background(), "NOPE-01", tok, u, at(50)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateRefund(unknown): got %v, want %v", err, store.ErrNotFound)
	}
}

// testRefundFailChangeFinal: FAIL and CHANGE are as final as SUCCESS.
// A FAIL moved on would refund money whose reservation was released (and
// perhaps reserved again by a new refund); a CHANGE moved on would refund
// through the gateway what a person is paying back by hand.
func testRefundFailChangeFinal(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	for _, tc := range []struct {
		final store.RefundState
		want  store.RefundTotals
	}{
		{store.RefundFailed, store.RefundTotals{}},
		{store.RefundChanged, store.RefundTotals{Reserved: 100}},
	} {
		ref := reserve(t, r, refundReq(o, 100, ""))
		tok := ref.ClaimToken
		update(t, r, ref, tok, store.RefundProcessing, at(20))
		update(t, r, ref, tok, tc.final, at(30))
		again, err := r.UpdateRefund(context.Background(), ref.OutRefundNo, tok, store.RefundUpdate{State: tc.final}, at(31))
		if err != nil || again.State != tc.final {
			t.Errorf("UpdateRefund(%s again): got (%v, %v), want %s and nil (a no-op)", tc.final, again, err, tc.final)
		}
		for _, to := range []store.RefundState{store.RefundPending, store.RefundProcessing, store.RefundNotSure,
			store.RefundSucceeded, store.RefundFailed, store.RefundChanged} {
			if to == tc.final {
				continue
			}
			_, err := r.UpdateRefund(context.Background(), ref.OutRefundNo, tok, store.RefundUpdate{State: to, RefundID: "LATE"}, at(40))
			wantErr(t, "UpdateRefund("+string(tc.final)+" to "+string(to)+")", err, store.ErrConflict)
		}
		got, err := r.GetRefund(context.Background(), ref.OutRefundNo)
		if err != nil || got.State != tc.final || got.RefundID == "LATE" {
			t.Errorf("refund after refused updates: got %+v (%v), want %s unchanged", got, err, tc.final)
		}
		wantTotals(t, r, o.OutTradeNo, tc.want)
		if claimed, err := r.ClaimRefunds(context.Background(), at(1_000_000), lease, 10); err != nil || len(claimed) != 0 {
			t.Errorf("ClaimRefunds long after %s: got %v (%v), want none", tc.final, refundNos(claimed), err)
		}
	}
	if st := get(t, s, o.OutTradeNo).Status; st != store.Paid {
		t.Errorf("attempt after a FAIL and a CHANGE: got %s, want PAID", st)
	}
}

func sameTime(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond
}

func testRefundFullyRefunded(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	a := reserve(t, r, refundReq(o, 400, ""))
	b := reserve(t, r, refundReq(o, 600, ""))
	update(t, r, a, a.ClaimToken, store.RefundSucceeded, at(20))
	if got := get(t, s, o.OutTradeNo); got.Status != store.Paid {
		t.Fatalf("partly refunded attempt: got %s, want %s", got.Status, store.Paid)
	}
	update(t, r, b, b.ClaimToken, store.RefundSucceeded, at(21))
	got := get(t, s, o.OutTradeNo)
	if got.Status != store.Refunded || !sameTime(got.UpdatedAt, at(21)) {
		t.Fatalf("fully refunded attempt: got %s updated %v, want %s at %v", got.Status, got.UpdatedAt, store.Refunded, at(21))
	}
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 1000, Refunded: 1000})
	_, _, err := r.ReserveRefund(context.Background(), refundReq(o, 1, ""), lease, at(30))
	wantErr(t, "ReserveRefund(REFUNDED)", err, store.ErrNotRefundable)
	if settled, err := s.Settle(context.Background(), o.OutTradeNo, payment("TBIZ1"), at(31)); settled || err != nil {
		t.Errorf("Settle(REFUNDED, same transaction): got (%v, %v), want (false, nil)", settled, err)
	}
	_, err = s.Settle(context.Background(), o.OutTradeNo, payment("OTHER"), at(31))
	wantErr(t, "Settle(REFUNDED, other transaction)", err, store.ErrConflict)
}

func testRefundFencedWrites(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	ref := reserve(t, r, refundReq(o, 100, ""))
	old := ref.ClaimToken
	for _, tok := range []string{"", "not-the-token"} {
		_, err := r.UpdateRefund(context.Background(), ref.OutRefundNo, tok, store.RefundUpdate{State: store.RefundFailed}, at(20))
		wantErr(t, fmt.Sprintf("UpdateRefund(token %q)", tok), err, store.ErrNotHeld)
	}
	// Past the lease, a poller claims it; the first holder is fenced out.
	late := at(10).Add(lease + time.Second)
	_, err := r.UpdateRefund(context.Background(), ref.OutRefundNo, old, store.RefundUpdate{State: store.RefundProcessing}, late)
	wantErr(t, "UpdateRefund(expired claim)", err, store.ErrNotHeld)
	claimed, err := r.ClaimRefunds(context.Background(), late, lease, 10)
	if err != nil || len(claimed) != 1 || claimed[0].ClaimToken == "" || claimed[0].ClaimToken == old {
		t.Fatalf("ClaimRefunds after the lease: got %d (%v), want the refund with a new token", len(claimed), err)
	}
	_, err = r.UpdateRefund(context.Background(), ref.OutRefundNo, old, store.RefundUpdate{State: store.RefundFailed}, late)
	wantErr(t, "UpdateRefund(token taken over)", err, store.ErrNotHeld)
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 100})
	update(t, r, ref, claimed[0].ClaimToken, store.RefundSucceeded, late)
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 100, Refunded: 100})
	// Release gives the claim up: the same token no longer writes.
	b := reserve(t, r, refundReq(o, 100, ""))
	if _, err := r.UpdateRefund(context.Background(), b.OutRefundNo, b.ClaimToken, store.RefundUpdate{State: store.RefundProcessing, Release: true, NextDue: at(20)}, at(11)); err != nil {
		t.Fatalf("UpdateRefund(release): %v", err)
	}
	_, err = r.UpdateRefund(context.Background(), b.OutRefundNo, b.ClaimToken, store.RefundUpdate{State: store.RefundFailed}, at(12))
	wantErr(t, "UpdateRefund(released token)", err, store.ErrNotHeld)
}

func testRefundClaimDue(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	release := func(ref *store.Refund, st store.RefundState, due time.Time) {
		t.Helper()
		if _, err := r.UpdateRefund(context.Background(), ref.OutRefundNo, ref.ClaimToken,
			store.RefundUpdate{State: st, NextDue: due, Release: true}, at(11)); err != nil {
			t.Fatalf("UpdateRefund(%s): %v", st, err)
		}
	}
	later := reserve(t, r, refundReq(o, 100, ""))
	release(later, store.RefundProcessing, at(200))
	sooner := reserve(t, r, refundReq(o, 100, ""))
	release(sooner, store.RefundNotSure, at(100))
	done := reserve(t, r, refundReq(o, 100, ""))
	update(t, r, done, done.ClaimToken, store.RefundSucceeded, at(11))
	hreq := refundReq(o, 100, "")
	hreq.NextDue = at(150)
	held := reserve(t, r, hreq) // claimed until at(10)+lease

	if got, err := r.ClaimRefunds(context.Background(), at(99), lease, 10); err != nil || len(got) != 0 {
		t.Fatalf("ClaimRefunds before anything is due: got %d (%v), want none", len(got), err)
	}
	got, err := r.ClaimRefunds(context.Background(), at(300), lease, 1)
	if err != nil || len(got) != 1 || got[0].OutRefundNo != sooner.OutRefundNo {
		t.Fatalf("ClaimRefunds(limit 1): got %v (%v), want only %s, the earliest due", refundNos(got), err, sooner.OutRefundNo)
	}
	got, err = r.ClaimRefunds(context.Background(), at(300), lease, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("ClaimRefunds(rest): got %v (%v), want %s and %s", refundNos(got), err, later.OutRefundNo, held.OutRefundNo)
	}
	if got, err := r.ClaimRefunds(context.Background(), at(300), lease, 10); err != nil || len(got) != 0 {
		t.Errorf("ClaimRefunds again within the lease: got %v (%v), want none", refundNos(got), err)
	}
}

// testRefundClaimTies: refunds due at the same time are claimed in
// out_refund_no order, so a batch limit never starves the same ones.
func testRefundClaimTies(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	var want []string
	for i := 0; i < 3; i++ {
		ref := reserve(t, r, refundReq(o, 100, ""))
		if _, err := r.UpdateRefund(context.Background(), ref.OutRefundNo, ref.ClaimToken,
			store.RefundUpdate{State: store.RefundPending, NextDue: at(100), Release: true}, at(11)); err != nil {
			t.Fatalf("UpdateRefund: %v", err)
		}
		want = append(want, ref.OutRefundNo)
	}
	first, err := r.ClaimRefunds(context.Background(), at(100), lease, 1)
	if err != nil || len(first) != 1 || first[0].OutRefundNo != want[0] {
		t.Fatalf("ClaimRefunds(limit 1) of three due together: got %v (%v), want [%s]", refundNos(first), err, want[0])
	}
	rest, err := r.ClaimRefunds(context.Background(), at(100), lease, 10)
	if got := refundNos(rest); err != nil || !cmp.Equal(got, want[1:]) {
		t.Errorf("ClaimRefunds(rest): got %v (%v), want %v in that order", got, err, want[1:])
	}
}

func refundNos(rs []*store.Refund) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.OutRefundNo)
	}
	return out
}

func testRefundClaimConcurrent(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	const n = 10
	for i := 0; i < n; i++ {
		ref := reserve(t, r, refundReq(o, 10, ""))
		if _, err := r.UpdateRefund(context.Background(), ref.OutRefundNo, ref.ClaimToken,
			store.RefundUpdate{State: store.RefundProcessing, NextDue: at(20), Release: true}, at(11)); err != nil {
			t.Fatalf("UpdateRefund: %v", err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	errs := make([]error, concurrency)
	race(func(i int) {
		got, err := r.ClaimRefunds(context.Background(), at(30), lease, 3)
		errs[i] = err
		mu.Lock()
		for _, x := range got {
			seen[x.OutRefundNo]++
		}
		mu.Unlock()
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("ClaimRefunds #%d: %v", i, err)
		}
	}
	if len(seen) != n {
		t.Errorf("%d concurrent claimers: got %d refunds claimed, want all %d", concurrency, len(seen), n)
	}
	for no, c := range seen {
		if c != 1 {
			t.Errorf("refund %s claimed %d times, want once", no, c)
		}
	}
}

func testRefundContextCanceled(t *testing.T, s store.OrderStore, r store.RefundStore) {
	o := paidOrder(t, s, "BIZ1", 1000)
	ref := reserve(t, r, refundReq(o, 100, ""))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"ReserveRefund", func() error { _, _, err := r.ReserveRefund(ctx, refundReq(o, 100, ""), lease, at(20)); return err }},
		{"GetRefund", func() error { _, err := r.GetRefund(ctx, ref.OutRefundNo); return err }},
		{"ListRefunds", func() error { _, err := r.ListRefunds(ctx, o.OutTradeNo); return err }},
		{"RefundTotals", func() error { _, err := r.RefundTotals(ctx, o.OutTradeNo); return err }},
		{"ClaimRefunds", func() error { _, err := r.ClaimRefunds(ctx, at(1000), lease, 10); return err }},
		{"UpdateRefund", func() error {
			_, err := r.UpdateRefund(ctx, ref.OutRefundNo, ref.ClaimToken, store.RefundUpdate{State: store.RefundSucceeded}, at(20))
			return err
		}},
	}
	for _, c := range calls {
		wantErr(t, c.name+"(canceled)", c.call(), context.Canceled)
	}
	wantTotals(t, r, o.OutTradeNo, store.RefundTotals{Reserved: 100})
	if got, err := r.GetRefund(context.Background(), ref.OutRefundNo); err != nil || got.State != store.RefundPending {
		t.Errorf("refund after canceled calls: got %v (%v), want PENDING", got, err)
	}
}

// raceN runs fn(0..n-1) on n goroutines released at once.
func raceN(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}
