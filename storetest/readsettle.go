package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/google/go-cmp/cmp"
)

// The ReadSettleLocker tests are an optional capability: they skip for a
// store that does not implement store.ReadSettleLocker.
func init() {
	orderTests = append(orderTests,
		orderTest{"ReadSettleAndTryAcquire", testReadSettleAndTryAcquire},
		orderTest{"ReadSettleAndTryAcquireMismatch", testReadSettleAndTryAcquireMismatch},
		orderTest{"ReadSettleAndTryAcquireNotPending", testReadSettleAndTryAcquireNotPending},
		orderTest{"ReadSettleAndTryAcquireHeld", testReadSettleAndTryAcquireHeld},
		orderTest{"ReadSettleAndTryAcquireConcurrent", testReadSettleAndTryAcquireConcurrent},
		orderTest{"ReadSettleAndTryAcquireSideFacts", testReadSettleAndTryAcquireSideFacts},
	)
}

// readSettlePrefix names the leases of these tests: the lease of an
// attempt is readSettlePrefix + its BusinessID.
const readSettlePrefix = "lease:"

func readSettleLocker(t *testing.T, s store.OrderStore) store.ReadSettleLocker {
	t.Helper()
	rs, ok := s.(store.ReadSettleLocker)
	if !ok {
		t.Skip("storetest: store does not implement store.ReadSettleLocker")
	}
	return rs
}

// expect is what a notification that matches o (newOrder's) allows.
func expect(o *store.Order) store.Expect {
	return store.Expect{MchID: o.MchID, Amount: o.Amount, Versions: []model.Version{o.Version}}
}

// readSettle calls ReadSettleAndTryAcquire at(5) with settleLockTTL.
func readSettle(s store.ReadSettleLocker, otn string, want store.Expect, p store.Payment) (*store.Order, bool, string, bool, error) {
	return s.ReadSettleAndTryAcquire(context.Background(), otn, want, p, at(5), readSettlePrefix, settleLockTTL)
}

// wantRead fails unless got is the attempt as Get answered it (want).
// wantNotSettled calls ReadSettleAndTryAcquire for otn with want and p,
// and fails unless it settled nothing, took no lease, returned no error
// and answered the attempt as Get read it before, and unless the attempt
// is unchanged and the lease name free afterwards.
func wantNotSettled(t *testing.T, op string, s store.OrderStore, rs store.ReadSettleLocker, otn string, want store.Expect, p store.Payment, lease string) {
	t.Helper()
	before := get(t, s, otn)
	read, settled, tok, held, err := readSettle(rs, otn, want, p)
	if err != nil || settled || held || tok != "" {
		t.Errorf("%s: got (%v, %q, %v, %v), want (false, \"\", false, nil)", op, settled, tok, held, err)
	}
	wantRead(t, op, before, read)
	wantOrder(t, s, before)
	wantFree(t, rs, lease)
}

func wantRead(t *testing.T, op string, want, got *store.Order) {
	t.Helper()
	if diff := cmp.Diff(want, got, sameInstant); diff != "" {
		t.Errorf("%s: the attempt read mismatch (-Get before +got):\n%s", op, diff)
	}
}

// testReadSettleAndTryAcquire: a PENDING attempt that matches is settled
// as Settle would, its lease (the prefix and its business id) is taken
// with it, and the answer is the attempt as Get read it before.
func testReadSettleAndTryAcquire(t *testing.T, s store.OrderStore) {
	rs := readSettleLocker(t, s)
	for _, v := range []struct {
		version  model.Version
		versions []model.Version
	}{
		{model.V2, []model.Version{model.V2}},
		{model.V1, []model.Version{model.V1}},
		{model.V1, []model.Version{model.V1, model.V2}},
		{model.V2, []model.Version{model.V1, model.V2}},
	} {
		o := newOrder(fmt.Sprintf("RSET%s%d", v.version, len(v.versions)), 1)
		o.Version = v.version
		create(t, s, o)
		before := get(t, s, o.OutTradeNo)
		want := expect(o)
		want.Versions = v.versions
		p := payment("T1")
		read, settled, tok, held, err := readSettle(rs, o.OutTradeNo, want, p)
		if err != nil || !settled || !held || tok == "" {
			t.Fatalf("%s %v: got (%v, %q, %v, %v), want (true, a token, true, nil)", v.version, v.versions, settled, tok, held, err)
		}
		wantRead(t, o.OutTradeNo, before, read)
		wantOrder(t, s, paid(o, p, at(5)))
		name := readSettlePrefix + o.BusinessID
		wantTaken(t, rs, name)
		release(t, rs, name, tok)
		wantFree(t, rs, name)
	}
	if _, _, _, _, err := readSettle(rs, "RSETX999", expect(newOrder("RSETX", 999)), payment("T1")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown attempt: got %v, want ErrNotFound", err)
	}
	wantFree(t, rs, readSettlePrefix+"RSETX")
}

// testReadSettleAndTryAcquireMismatch: a PENDING attempt whose merchant,
// amount or version the message does not allow is answered as read and
// left exactly as it was, with no lease and no error (guarantee G1: what
// the handler then checks, and alerts on, is what it read).
func testReadSettleAndTryAcquireMismatch(t *testing.T, s store.OrderStore) {
	rs := readSettleLocker(t, s)
	for i, tc := range []struct {
		name string
		edit func(e *store.Expect, o *store.Order)
	}{
		{"merchant", func(e *store.Expect, _ *store.Order) { e.MchID = "755437000007" }},
		{"amount", func(e *store.Expect, _ *store.Order) { e.Amount++ }},
		{"amount short", func(e *store.Expect, _ *store.Order) { e.Amount-- }},
		{"v2 order, v1 key", func(e *store.Expect, _ *store.Order) { e.Versions = []model.Version{model.V1} }},
		{"v1 order, v2 key", func(e *store.Expect, o *store.Order) {
			o.Version = model.V1
			e.Versions = []model.Version{model.V2}
		}},
		{"no version", func(e *store.Expect, _ *store.Order) { e.Versions = nil }},
	} {
		o := newOrder(fmt.Sprintf("RSMIS%d", i), 1)
		want := expect(o)
		tc.edit(&want, o)
		create(t, s, o)
		wantNotSettled(t, tc.name, s, rs, o.OutTradeNo, want, payment("T1"), readSettlePrefix+o.BusinessID)
	}
}

// testReadSettleAndTryAcquireNotPending: an attempt that is not PENDING
// (paid by the same or another transaction, failed, closed) is answered
// as read and left as it was, with no lease and no error: what to answer
// the message is the caller's to decide from what it read.
func testReadSettleAndTryAcquireNotPending(t *testing.T, s store.OrderStore) {
	rs := readSettleLocker(t, s)
	o := newOrder("RSNP", 1)
	create(t, s, o)
	settle(t, s, o.OutTradeNo, payment("T1"), at(3))
	failed := newOrder("RSNP", 2)
	create(t, s, failed)
	finish(t, s, failed.OutTradeNo, store.Failed, at(3))
	closed := newOrder("RSNP", 3)
	create(t, s, closed)
	finish(t, s, closed.OutTradeNo, store.Closed, at(3))
	for _, tc := range []struct {
		name, otn, tx string
	}{
		{"paid, the same transaction", o.OutTradeNo, "T1"},
		{"paid, another transaction", o.OutTradeNo, "T2"},
		{"failed", failed.OutTradeNo, "T1"},
		{"closed", closed.OutTradeNo, "T1"},
	} {
		wantNotSettled(t, tc.name, s, rs, tc.otn, expect(o), payment(tc.tx), readSettlePrefix+o.BusinessID)
	}
}

// testReadSettleAndTryAcquireHeld: with the lease held elsewhere the
// attempt is still settled, the lease is not taken, and its holder keeps
// it.
func testReadSettleAndTryAcquireHeld(t *testing.T, s store.OrderStore) {
	rs := readSettleLocker(t, s)
	o := newOrder("RSHELD", 1)
	create(t, s, o)
	name := readSettlePrefix + o.BusinessID
	other, ok := tryAcquire(t, rs, name, settleLockTTL)
	if !ok {
		t.Fatal("TryAcquire of a fresh lease: held")
	}
	p := payment("T1")
	_, settled, tok, held, err := readSettle(rs, o.OutTradeNo, expect(o), p)
	if err != nil || !settled || held || tok != "" {
		t.Fatalf("with the lease held: got (%v, %q, %v, %v), want (true, \"\", false, nil)", settled, tok, held, err)
	}
	wantOrder(t, s, paid(o, p, at(5)))
	wantTaken(t, rs, name)
	release(t, rs, name, other)
}

// testReadSettleAndTryAcquireConcurrent: of many concurrent calls on one
// attempt, with the same payment and with different ones, exactly one
// settles it and it alone takes the lease (guarantee G2); every other
// answers without an error and with the attempt either PENDING (it read
// before the winner's settlement) or PAID by the winner.
func testReadSettleAndTryAcquireConcurrent(t *testing.T, s store.OrderStore) {
	rs := readSettleLocker(t, s)
	for _, distinct := range []bool{false, true} {
		o := newOrder(fmt.Sprintf("RSRACE%v", distinct), 1)
		create(t, s, o)
		name := readSettlePrefix + o.BusinessID
		tx := func(i int) string {
			if distinct {
				return fmt.Sprintf("T%d", i)
			}
			return "T1"
		}
		var winners, leases, last atomic.Int32
		tokens := make([]string, concurrency)
		reads := make([]*store.Order, concurrency)
		errs := make([]error, concurrency)
		race(func(i int) {
			read, settled, tok, held, err := rs.ReadSettleAndTryAcquire(context.Background(), o.OutTradeNo, expect(o), payment(tx(i)), at(100+i), readSettlePrefix, settleLockTTL)
			reads[i], errs[i], tokens[i] = read, err, tok
			if settled {
				winners.Add(1)
				last.Store(int32(i))
			}
			if held {
				leases.Add(1)
			}
			if held != (tok != "") || held && !settled {
				t.Errorf("call #%d: got settled=%v, token %q, held=%v: a lease only with a settlement, a token only with a lease", i, settled, tok, held)
			}
		})
		w := int(last.Load())
		if winners.Load() != 1 || leases.Load() != 1 {
			t.Fatalf("distinct=%v: %d concurrent calls: %d settled and %d took the lease, want 1 and 1", distinct, concurrency, winners.Load(), leases.Load())
		}
		for i, err := range errs {
			if err != nil {
				t.Errorf("distinct=%v: call #%d: got %v, want nil", distinct, i, err)
				continue
			}
			r := reads[i]
			switch {
			case r == nil:
				t.Errorf("distinct=%v: call #%d: no attempt read", distinct, i)
			case i == w && r.Status != store.Pending:
				t.Errorf("distinct=%v: the winner read %s, want PENDING", distinct, r.Status)
			case r.Status != store.Pending && (r.Status != store.Paid || r.TransactionID != tx(w)):
				t.Errorf("distinct=%v: call #%d read %s by %q, want PENDING or PAID by %q", distinct, i, r.Status, r.TransactionID, tx(w))
			}
		}
		wantOrder(t, s, paid(o, payment(tx(w)), at(100+w)))
		wantTaken(t, rs, name)
		release(t, rs, name, tokens[w])
	}
}

// testReadSettleAndTryAcquireSideFacts: the payment's money facts replace
// those the attempt was created with (a payment without any clears them),
// and the attempt becomes fulfilment work for the Reconciler, as with
// Settle; the attempt read still has the facts it was created with.
func testReadSettleAndTryAcquireSideFacts(t *testing.T, s store.OrderStore) {
	rs := readSettleLocker(t, s)
	created := store.MoneyFacts{Recorded: true, CashFee: 1, FeeType: "USD"}
	for _, p := range []store.Payment{payment("T1"), {TransactionID: "T2", PaidAt: at(2)}} {
		o := newOrder("RSIDE"+p.TransactionID, 1)
		o.Money = created
		o.NextDue = at(2)
		create(t, s, o)
		before := get(t, s, o.OutTradeNo)
		read, settled, tok, held, err := readSettle(rs, o.OutTradeNo, expect(o), p)
		if err != nil || !settled || !held {
			t.Fatalf("%s: got (%v, %v, %v), want (true, true, nil)", o.OutTradeNo, settled, held, err)
		}
		wantRead(t, o.OutTradeNo, before, read)
		wantOrder(t, s, paid(o, p, at(5)))
		release(t, rs, readSettlePrefix+o.BusinessID, tok)
	}
	sc, ok := s.(store.Scheduler)
	if !ok {
		return
	}
	wantKeys(t, "Claim(query) after", claim(t, sc, store.KindQuery, at(20), 10))
	wantKeys(t, "Claim(fulfil) after", claim(t, sc, store.KindFulfil, at(20), 10), "RSIDET1A001", "RSIDET2A001")
}
