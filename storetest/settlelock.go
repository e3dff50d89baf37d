package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
)

// The SettleLocker tests are an optional capability: they skip for a
// store that does not implement store.SettleLocker.
func init() {
	orderTests = append(orderTests,
		orderTest{"SettleAndTryAcquire", testSettleAndTryAcquire},
		orderTest{"SettleAndTryAcquireNotSettled", testSettleAndTryAcquireNotSettled},
		orderTest{"SettleAndTryAcquireHeld", testSettleAndTryAcquireHeld},
		orderTest{"SettleAndTryAcquireConcurrent", testSettleAndTryAcquireConcurrent},
		orderTest{"SettleAndTryAcquireMoney", testSettleAndTryAcquireMoney},
		orderTest{"SettleAndTryAcquireSchedule", testSettleAndTryAcquireSchedule},
		orderTest{"MarkFulfilledAndRelease", testMarkFulfilledAndRelease},
		orderTest{"MarkFulfilledAndReleaseStale", testMarkFulfilledAndReleaseStale},
		orderTest{"MarkFulfilledAndReleaseConflict", testMarkFulfilledAndReleaseConflict},
	)
}

// settleLockTTL is long enough that no lease in these tests expires.
const settleLockTTL = time.Minute

func settleLocker(t *testing.T, s store.OrderStore) store.SettleLocker {
	t.Helper()
	sl, ok := s.(store.SettleLocker)
	if !ok {
		t.Skip("storetest: store does not implement store.SettleLocker")
	}
	return sl
}

// wantFree fails unless name's lease is free, and gives it back.
func wantFree(t *testing.T, l store.TryLocker, name string) {
	t.Helper()
	tok, ok := tryAcquire(t, l, name, settleLockTTL)
	if !ok {
		t.Fatalf("TryAcquire(%q): held, want it free", name)
	}
	release(t, l, name, tok)
}

// wantTaken fails unless someone holds name's lease.
func wantTaken(t *testing.T, l store.TryLocker, name string) {
	t.Helper()
	if tok, ok := tryAcquire(t, l, name, settleLockTTL); ok {
		release(t, l, name, tok)
		t.Fatalf("TryAcquire(%q): free, want it held", name)
	}
}

func settleAndTry(t *testing.T, s store.SettleLocker, o *store.Order, p store.Payment, name string) (bool, string, bool, error) {
	t.Helper()
	return s.SettleAndTryAcquire(context.Background(), o.OutTradeNo, p, at(5), name, settleLockTTL)
}

// testSettleAndTryAcquire: a PENDING attempt is settled as Settle would,
// and the lease is taken with it, held until its token releases it.
func testSettleAndTryAcquire(t *testing.T, s store.OrderStore) {
	sl := settleLocker(t, s)
	o := newOrder("SLOCK", 1)
	create(t, s, o)
	p := payment("T1")
	settled, tok, held, err := settleAndTry(t, sl, o, p, "lease:SLOCK")
	if err != nil || !settled || !held || tok == "" {
		t.Fatalf("SettleAndTryAcquire: got (%v, %q, %v, %v), want (true, a token, true, nil)", settled, tok, held, err)
	}
	wantOrder(t, s, paid(o, p, at(5)))
	wantTaken(t, sl, "lease:SLOCK")
	release(t, sl, "lease:SLOCK", tok)
	wantFree(t, sl, "lease:SLOCK")
}

// testSettleAndTryAcquireNotSettled: a call that does not make the
// attempt PAID (a repeat, another transaction, an unknown attempt)
// answers as Settle would and takes no lease.
func testSettleAndTryAcquireNotSettled(t *testing.T, s store.OrderStore) {
	sl := settleLocker(t, s)
	o := newOrder("SLOCKN", 1)
	create(t, s, o)
	settle(t, s, o.OutTradeNo, payment("T1"), at(3))
	for _, tc := range []struct {
		name, otn, tx string
		want          error
	}{
		{"repeat", o.OutTradeNo, "T1", nil},
		{"another transaction", o.OutTradeNo, "T2", store.ErrConflict},
		{"unknown attempt", "SLOCKNA999", "T1", store.ErrNotFound},
	} {
		settled, tok, held, err := sl.SettleAndTryAcquire(context.Background(), tc.otn, payment(tc.tx), at(5), "lease:SLOCKN", settleLockTTL)
		if settled || held || tok != "" || !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: got (%v, %q, %v, %v), want (false, \"\", false, %v)", tc.name, settled, tok, held, err, tc.want)
		}
		wantFree(t, sl, "lease:SLOCKN")
	}
	wantOrder(t, s, paid(o, payment("T1"), at(3)))
}

// testSettleAndTryAcquireHeld: with the lease held elsewhere the attempt
// is still settled, the lease is not taken, and its holder keeps it.
func testSettleAndTryAcquireHeld(t *testing.T, s store.OrderStore) {
	sl := settleLocker(t, s)
	o := newOrder("SLOCKH", 1)
	create(t, s, o)
	other, ok := tryAcquire(t, sl, "lease:SLOCKH", settleLockTTL)
	if !ok {
		t.Fatal("TryAcquire of a fresh lease: held")
	}
	p := payment("T1")
	settled, tok, held, err := settleAndTry(t, sl, o, p, "lease:SLOCKH")
	if err != nil || !settled || held || tok != "" {
		t.Fatalf("SettleAndTryAcquire with the lease held: got (%v, %q, %v, %v), want (true, \"\", false, nil)", settled, tok, held, err)
	}
	wantOrder(t, s, paid(o, p, at(5)))
	wantTaken(t, sl, "lease:SLOCKH")
	release(t, sl, "lease:SLOCKH", other)
}

// testSettleAndTryAcquireConcurrent: of many concurrent calls on one
// attempt, with the same payment and with different ones, exactly one
// settles it, it alone takes the lease, and the others answer as Settle
// would (a repeat, or ErrConflict) without a lease.
func testSettleAndTryAcquireConcurrent(t *testing.T, s store.OrderStore) {
	sl := settleLocker(t, s)
	for _, distinct := range []bool{false, true} {
		o := newOrder(fmt.Sprintf("SLOCKR%v", distinct), 1)
		create(t, s, o)
		name := "lease:" + o.BusinessID
		tx := func(i int) string {
			if distinct {
				return fmt.Sprintf("T%d", i)
			}
			return "T1"
		}
		var winners, leases, last atomic.Int32
		tokens := make([]string, concurrency)
		errs := make([]error, concurrency)
		race(func(i int) {
			settled, tok, held, err := sl.SettleAndTryAcquire(context.Background(), o.OutTradeNo, payment(tx(i)), at(100+i), name, settleLockTTL)
			errs[i], tokens[i] = err, tok
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
			if i != w && (distinct && !errors.Is(err, store.ErrConflict) || !distinct && err != nil) {
				t.Errorf("distinct=%v: call #%d: got %v, want %v", distinct, i, err, map[bool]error{true: store.ErrConflict}[distinct])
			}
		}
		wantOrder(t, s, paid(o, payment(tx(w)), at(100+w)))
		wantTaken(t, sl, name)
		release(t, sl, name, tokens[w])
	}
}

// testSettleAndTryAcquireMoney: the payment's money facts replace those
// the attempt was created with, and a payment without any clears them, as
// Settle does.
func testSettleAndTryAcquireMoney(t *testing.T, s store.OrderStore) {
	sl := settleLocker(t, s)
	created := store.MoneyFacts{Recorded: true, CashFee: 1, FeeType: "USD"}
	for _, p := range []store.Payment{payment("T1"), {TransactionID: "T2", PaidAt: at(2)}} {
		o := newOrder("SLOCKF"+p.TransactionID, 1)
		o.Money = created
		create(t, s, o)
		settled, tok, held, err := settleAndTry(t, sl, o, p, "lease:"+o.BusinessID)
		if err != nil || !settled || !held {
			t.Fatalf("SettleAndTryAcquire(%s): got (%v, %v, %v), want (true, true, nil)", o.OutTradeNo, settled, held, err)
		}
		wantOrder(t, s, paid(o, p, at(5)))
		release(t, sl, "lease:"+o.BusinessID, tok)
	}
}

// testSettleAndTryAcquireSchedule: the attempt it settles becomes
// fulfilment work for the Reconciler, keeping its due time, as with Settle.
func testSettleAndTryAcquireSchedule(t *testing.T, s store.OrderStore) {
	sl := settleLocker(t, s)
	sc, ok := s.(store.Scheduler)
	if !ok {
		t.Skip("storetest: store does not implement store.Scheduler")
	}
	o := due(t, s, "SLOCKD", 1, at(2))
	_, tok, held, err := settleAndTry(t, sl, o, payment("T1"), "lease:SLOCKD")
	if err != nil || !held {
		t.Fatalf("SettleAndTryAcquire: got held=%v, %v", held, err)
	}
	wantKeys(t, "Claim(query) after", claim(t, sc, store.KindQuery, at(20), 10))
	wantKeys(t, "Claim(fulfil) after", claim(t, sc, store.KindFulfil, at(20), 10), o.OutTradeNo)
	release(t, sl, "lease:SLOCKD", tok)
}

// testMarkFulfilledAndRelease: the fulfilment is recorded as MarkFulfilled
// would, and the lease is free afterwards.
func testMarkFulfilledAndRelease(t *testing.T, s store.OrderStore) {
	sl := settleLocker(t, s)
	o := newOrder("SLOCKM", 1)
	create(t, s, o)
	p := payment("T1")
	_, tok, held, err := settleAndTry(t, sl, o, p, "lease:SLOCKM")
	if err != nil || !held {
		t.Fatalf("SettleAndTryAcquire: got held=%v, %v", held, err)
	}
	if err := sl.MarkFulfilledAndRelease(context.Background(), o.OutTradeNo, at(7), "lease:SLOCKM", tok); err != nil {
		t.Fatalf("MarkFulfilledAndRelease: got %v, want nil", err)
	}
	want := paid(o, p, at(7))
	want.Fulfilled, want.FulfilledAt = true, at(7)
	wantOrder(t, s, want)
	wantFree(t, sl, "lease:SLOCKM")
}

// testMarkFulfilledAndReleaseStale: with a token that no longer holds the
// lease the fulfilment is still recorded, the answer is ErrNotHeld, and
// the lease's new holder keeps it.
func testMarkFulfilledAndReleaseStale(t *testing.T, s store.OrderStore) {
	sl := settleLocker(t, s)
	o := newOrder("SLOCKS", 1)
	create(t, s, o)
	settle(t, s, o.OutTradeNo, payment("T1"), at(3))
	other, ok := tryAcquire(t, sl, "lease:SLOCKS", settleLockTTL)
	if !ok {
		t.Fatal("TryAcquire of a fresh lease: held")
	}
	err := sl.MarkFulfilledAndRelease(context.Background(), o.OutTradeNo, at(7), "lease:SLOCKS", "stale-token")
	if !errors.Is(err, store.ErrNotHeld) {
		t.Fatalf("MarkFulfilledAndRelease with a stale token: got %v, want ErrNotHeld", err)
	}
	if got := get(t, s, o.OutTradeNo); !got.Fulfilled {
		t.Errorf("after MarkFulfilledAndRelease with a stale token: not fulfilled, want fulfilled")
	}
	wantTaken(t, sl, "lease:SLOCKS")
	release(t, sl, "lease:SLOCKS", other)
}

// testMarkFulfilledAndReleaseConflict: an attempt that is not PAID
// (PENDING, or finished FAILED or CLOSED) is ErrConflict, as MarkFulfilled
// answers, nothing about it changes, and the lease stays held: whoever
// holds it must keep others out until it expires.
func testMarkFulfilledAndReleaseConflict(t *testing.T, s store.OrderStore) {
	sl := settleLocker(t, s)
	for i, st := range []store.Status{store.Pending, store.Failed, store.Closed} {
		t.Run(string(st), func(t *testing.T) {
			o := newOrder(fmt.Sprintf("SLOCKC%d", i), 1)
			create(t, s, o)
			if st != store.Pending {
				finish(t, s, o.OutTradeNo, st, at(5))
			}
			want := get(t, s, o.OutTradeNo)
			name := "lease:" + o.BusinessID
			tok, ok := tryAcquire(t, sl, name, settleLockTTL)
			if !ok {
				t.Fatal("TryAcquire of a fresh lease: held")
			}
			err := sl.MarkFulfilledAndRelease(context.Background(), o.OutTradeNo, at(7), name, tok)
			if !errors.Is(err, store.ErrConflict) {
				t.Fatalf("MarkFulfilledAndRelease of a %s attempt: got %v, want ErrConflict", st, err)
			}
			wantOrder(t, s, want)
			wantTaken(t, sl, name)
			release(t, sl, name, tok)
		})
	}
}
