package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
)

var scheduleTests = []scheduleTest{
	{"ScheduleDueOrder", testScheduleDueOrder},
	{"ScheduleKinds", testScheduleKinds},
	{"ScheduleCreatedAfter", testScheduleCreatedAfter},
	{"ScheduleExclusive", testScheduleExclusive},
	{"ScheduleExpiry", testScheduleExpiry},
	{"ScheduleFenced", testScheduleFenced},
	{"ScheduleReschedule", testScheduleReschedule},
	{"ScheduleNoStarvation", testScheduleNoStarvation},
	{"ScheduleBadInput", testScheduleBadInput},
	{"ScheduleReturnsCopies", testScheduleReturnsCopies},
	{"ScheduleContextCanceled", testScheduleContextCanceled},
	{"ScheduleCarriesExpiry", testScheduleCarriesExpiry},
}

type scheduleTest struct {
	name string
	fn   func(t *testing.T, s store.OrderStore, sc store.Scheduler)
}

// due creates a PENDING attempt biz/n due at next.
func due(t testing.TB, s store.OrderStore, biz string, n int, next time.Time) *store.Order {
	t.Helper()
	o := newOrder(biz, n)
	o.NextDue = next
	create(t, s, o)
	return o
}

// claim claims at now and fails t on error.
func claim(t testing.TB, sc store.Scheduler, kind store.Kind, now time.Time, limit int) []store.Claim {
	t.Helper()
	cs, err := sc.Claim(context.Background(), store.ClaimRequest{Kind: kind, Now: now, Lease: lease, Limit: limit})
	if err != nil {
		t.Fatalf("Claim(%s, %v, %d): got error %v, want nil", kind, now, limit, err)
	}
	if cs == nil {
		t.Fatalf("Claim(%s): got a nil slice, want an empty one", kind)
	}
	return cs
}

func claimKeys(cs []store.Claim) []string {
	keys := make([]string, len(cs))
	for i, c := range cs {
		keys[i] = c.Key
	}
	return keys
}

func wantKeys(t testing.TB, op string, cs []store.Claim, want ...string) {
	t.Helper()
	got := claimKeys(cs)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: got %v, want %v", op, got, want)
	}
}

func reschedule(t testing.TB, sc store.Scheduler, c store.Claim, next time.Time) {
	t.Helper()
	if err := sc.Reschedule(context.Background(), c, next); err != nil {
		t.Fatalf("Reschedule(%s, %v): got error %v, want nil", c.Key, next, err)
	}
}

// testScheduleDueOrder: only due attempts, most overdue first (ties by
// key), at most Limit; a zero NextDue is due at once; each claim carries
// the due time it had, a token and a copy of the attempt.
func testScheduleDueOrder(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	late := due(t, s, "BIZ1", 1, at(-100))
	zero := due(t, s, "BIZ1", 2, time.Time{})
	tie1 := due(t, s, "BIZ2", 1, at(5))
	tie2 := due(t, s, "BIZ2", 2, at(5))
	due(t, s, "BIZ3", 1, at(11)) // not yet due
	cs := claim(t, sc, store.KindQuery, at(10), 3)
	wantKeys(t, "Claim(limit 3)", cs, zero.OutTradeNo, late.OutTradeNo, tie1.OutTradeNo)
	for i, want := range []*store.Order{zero, late, tie1} {
		if i >= len(cs) {
			break
		}
		c := cs[i]
		if c.Token == "" || c.Kind != store.KindQuery || !sameDue(c.Due, want.NextDue) {
			t.Errorf("claim %s: got kind %q token %q due %v, want %q, a token, due %v", c.Key, c.Kind, c.Token, c.Due, store.KindQuery, want.NextDue)
		}
		if c.Order == nil || c.Order.OutTradeNo != want.OutTradeNo || c.Order.Amount != want.Amount || c.Order.Status != store.Pending {
			t.Errorf("claim %s: got order %+v, want a copy of the attempt", c.Key, c.Order)
		}
	}
	wantKeys(t, "Claim(rest)", claim(t, sc, store.KindQuery, at(10), 10), tie2.OutTradeNo)
	wantKeys(t, "Claim(nothing due)", claim(t, sc, store.KindQuery, at(10), 10))
	wantKeys(t, "Claim(limit 0)", claim(t, sc, store.KindQuery, at(11), 0))
}

// sameDue compares due times as instants, the zero time only to itself.
func sameDue(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond
}

// testScheduleKinds: PENDING attempts are query work; Settle makes one
// fulfilment work with its due time; MarkFulfilled and Finish take
// attempts out of every kind.
func testScheduleKinds(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	toPay := due(t, s, "BIZ1", 1, at(1))
	toFulfil := due(t, s, "BIZ1", 2, at(2))
	toClose := due(t, s, "BIZ1", 3, at(3))
	pending := due(t, s, "BIZ1", 4, at(4))
	settle(t, s, toPay.OutTradeNo, payment("T1"), at(5))
	settle(t, s, toFulfil.OutTradeNo, payment("T2"), at(5))
	if err := s.MarkFulfilled(context.Background(), toPay.OutTradeNo, at(6)); err != nil {
		t.Fatalf("MarkFulfilled: %v", err)
	}
	finish(t, s, toClose.OutTradeNo, store.Closed, at(6))
	if got := get(t, s, toFulfil.OutTradeNo).NextDue; !sameDue(got, at(2)) {
		t.Errorf("NextDue after Settle: got %v, want %v (unchanged)", got, at(2))
	}
	wantKeys(t, "Claim(query)", claim(t, sc, store.KindQuery, at(10), 10), pending.OutTradeNo)
	fulfil := claim(t, sc, store.KindFulfil, at(10), 10)
	wantKeys(t, "Claim(fulfil)", fulfil, toFulfil.OutTradeNo)
	if len(fulfil) == 1 && (fulfil[0].Order == nil || fulfil[0].Order.Status != store.Paid) {
		t.Errorf("fulfil claim: got order %+v, want the PAID attempt", fulfil[0].Order)
	}
}

// testScheduleCreatedAfter: CreatedAfter keeps only attempts created
// strictly after it, still most overdue first.
func testScheduleCreatedAfter(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	old := newOrder("BIZ1", 1)
	old.NextDue = at(1)
	create(t, s, old)
	fresh := newOrder("BIZ1", 2)
	fresh.CreatedAt, fresh.NextDue = at(100), at(105)
	create(t, s, fresh)
	cs, err := sc.Claim(context.Background(), store.ClaimRequest{
		Kind: store.KindQuery, Now: at(110), CreatedAfter: at(0), Lease: lease, Limit: 10,
	})
	if err != nil {
		t.Fatalf("Claim(CreatedAfter): %v", err)
	}
	wantKeys(t, "Claim(CreatedAfter at(0))", cs, fresh.OutTradeNo)
	wantKeys(t, "Claim(any)", claim(t, sc, store.KindQuery, at(110), 10), old.OutTradeNo)
}

// testScheduleExclusive has many callers claim at once, in small batches,
// until nothing is due: every attempt is claimed exactly once.
func testScheduleExclusive(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	const n = 120
	for i := range n {
		due(t, s, fmt.Sprintf("BIZ%03d", i), 1, at(i%7))
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		errs []error
	)
	race(func(int) {
		// Bounded, so a store that hands the same attempts out for ever
		// fails instead of hanging.
		for range n {
			cs, err := sc.Claim(context.Background(), store.ClaimRequest{Kind: store.KindQuery, Now: at(10), Lease: lease, Limit: 3})
			mu.Lock()
			if err != nil {
				errs = append(errs, err)
			}
			for _, c := range cs {
				seen[c.Key]++
			}
			mu.Unlock()
			if err != nil || len(cs) == 0 {
				return
			}
		}
	})
	if len(errs) > 0 {
		t.Fatalf("concurrent Claim: got errors %v", errors.Join(errs...))
	}
	if len(seen) != n {
		t.Errorf("attempts claimed: got %d, want %d", len(seen), n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("%s claimed %d times, want once", k, c)
		}
	}
}

// testScheduleExpiry: a claimed attempt is not handed out again during its
// lease, and is once the lease has run out (its holder died).
func testScheduleExpiry(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	o := due(t, s, "BIZ1", 1, at(0))
	first := claim(t, sc, store.KindQuery, at(10), 10)
	wantKeys(t, "first Claim", first, o.OutTradeNo)
	wantKeys(t, "Claim during the lease", claim(t, sc, store.KindQuery, at(10).Add(lease-time.Second), 10))
	again := claim(t, sc, store.KindQuery, at(10).Add(lease), 10)
	wantKeys(t, "Claim when the lease ends", again, o.OutTradeNo)
	if len(first) == 1 && len(again) == 1 && first[0].Token == again[0].Token {
		t.Errorf("a new claim reused token %q", again[0].Token)
	}
}

// testScheduleFenced: once another caller took over an expired claim, the
// first holder's Reschedule is ErrNotHeld and changes nothing; the new
// holder's goes through.
func testScheduleFenced(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	o := due(t, s, "BIZ1", 1, at(0))
	stale := claim(t, sc, store.KindQuery, at(10), 1)
	fresh := claim(t, sc, store.KindQuery, at(10).Add(lease), 1)
	if len(stale) != 1 || len(fresh) != 1 {
		t.Fatalf("claims: got %d then %d, want 1 and 1", len(stale), len(fresh))
	}
	reschedule(t, sc, fresh[0], at(500))
	err := sc.Reschedule(context.Background(), stale[0], at(20))
	wantErr(t, "Reschedule(stale claim)", err, store.ErrNotHeld)
	if got := get(t, s, o.OutTradeNo).NextDue; !sameDue(got, at(500)) {
		t.Errorf("NextDue after a stale Reschedule: got %v, want %v", got, at(500))
	}
	forged := fresh[0]
	forged.Token = "forged"
	wantErr(t, "Reschedule(wrong token)", sc.Reschedule(context.Background(), forged, at(20)), store.ErrNotHeld)
	forged.Token = ""
	wantErr(t, "Reschedule(empty token)", sc.Reschedule(context.Background(), forged, at(20)), store.ErrNotHeld)
	// A claim ends with its Reschedule: a second one is no longer held.
	wantErr(t, "Reschedule(twice)", sc.Reschedule(context.Background(), fresh[0], at(30)), store.ErrNotHeld)
	if got := get(t, s, o.OutTradeNo).NextDue; !sameDue(got, at(500)) {
		t.Errorf("NextDue after refused Reschedules: got %v, want %v", got, at(500))
	}
}

// testScheduleReschedule: Reschedule sets the due time (whatever the
// status) and the attempt is due again only then; an unknown key is
// ErrNotFound.
func testScheduleReschedule(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	o := due(t, s, "BIZ1", 1, at(0))
	cs := claim(t, sc, store.KindQuery, at(10), 1)
	if len(cs) != 1 {
		t.Fatalf("Claim: got %d claims, want 1", len(cs))
	}
	settle(t, s, o.OutTradeNo, payment("T1"), at(11))
	reschedule(t, sc, cs[0], at(15))
	if got := get(t, s, o.OutTradeNo).NextDue; !sameDue(got, at(15)) {
		t.Errorf("NextDue: got %v, want %v", got, at(15))
	}
	wantKeys(t, "Claim before the new due time", claim(t, sc, store.KindFulfil, at(14), 10))
	wantKeys(t, "Claim at the new due time", claim(t, sc, store.KindFulfil, at(15), 10), o.OutTradeNo)
	unknown := store.Claim{Kind: store.KindQuery, Key: "NOSUCHATTEMPT1", Token: cs[0].Token}
	wantErr(t, "Reschedule(unknown)", sc.Reschedule(context.Background(), unknown, at(20)), store.ErrNotFound)
}

// testScheduleNoStarvation: a pass that can only take a few attempts, and
// puts each back a little later, still reaches every attempt, because the
// longest overdue go first.
func testScheduleNoStarvation(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	const n, perRound = 10, 3
	for i := range n {
		due(t, s, "BIZ1", i+1, at(0))
	}
	seen := map[string]bool{}
	for round := 1; round <= (n+perRound-1)/perRound; round++ {
		now := at(round * 10)
		for _, c := range claim(t, sc, store.KindQuery, now, perRound) {
			seen[c.Key] = true
			reschedule(t, sc, c, now.Add(time.Second))
		}
	}
	if len(seen) != n {
		var got []string
		for k := range seen {
			got = append(got, k)
		}
		sort.Strings(got)
		t.Errorf("attempts reached in %d rounds of %d: got %d %v, want all %d", (n+perRound-1)/perRound, perRound, len(seen), got, n)
	}
}

// testScheduleBadInput: a lease under a millisecond and an unknown kind
// are errors that claim nothing; a lease of exactly a millisecond is not.
func testScheduleBadInput(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	due(t, s, "BIZ1", 1, at(0))
	ctx := context.Background()
	_, err := sc.Claim(ctx, store.ClaimRequest{Kind: store.KindQuery, Now: at(10), Lease: time.Microsecond, Limit: 10})
	wantErr(t, "Claim(1µs lease)", err, store.ErrLease)
	if _, err := sc.Claim(ctx, store.ClaimRequest{Kind: "no-such-kind", Now: at(10), Lease: lease, Limit: 10}); err == nil {
		t.Error("Claim(unknown kind): got nil error, want one")
	}
	if cs := claim(t, sc, store.KindQuery, at(10), 10); len(cs) != 1 {
		t.Errorf("Claim after refused claims: got %d, want 1 (nothing was claimed)", len(cs))
	}
	// Exactly a millisecond is enough.
	cs, err := sc.Claim(ctx, store.ClaimRequest{Kind: store.KindQuery, Now: at(10).Add(lease), Lease: time.Millisecond, Limit: 10})
	if err != nil || len(cs) != 1 {
		t.Errorf("Claim(1ms lease) once the first claim ended: got %d claims (%v), want 1 and nil", len(cs), err)
	}
}

// testScheduleReturnsCopies: changing a claim's Order changes nothing
// stored.
func testScheduleReturnsCopies(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	o := due(t, s, "BIZ1", 1, at(0))
	cs := claim(t, sc, store.KindQuery, at(10), 1)
	if len(cs) != 1 || cs[0].Order == nil {
		t.Fatalf("Claim: got %+v, want one claim with its order", cs)
	}
	cs[0].Order.Amount, cs[0].Order.Status = 1, store.Paid
	got := get(t, s, o.OutTradeNo)
	if got.Amount != o.Amount || got.Status != store.Pending {
		t.Errorf("stored attempt after changing a claim's copy: got %d %s, want %d PENDING", got.Amount, got.Status, o.Amount)
	}
}

// testScheduleContextCanceled: with an ended context, Claim and
// Reschedule report context.Canceled and change nothing.
func testScheduleContextCanceled(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	o := due(t, s, "BIZ1", 1, at(0))
	held := claim(t, sc, store.KindQuery, at(10), 1)
	if len(held) != 1 {
		t.Fatalf("Claim: got %d claims, want 1", len(held))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wantErr(t, "Reschedule(canceled)", sc.Reschedule(ctx, held[0], at(99)), context.Canceled)
	due(t, s, "BIZ2", 1, at(0))
	_, err := sc.Claim(ctx, store.ClaimRequest{Kind: store.KindQuery, Now: at(10), Lease: lease, Limit: 10})
	wantErr(t, "Claim(canceled)", err, context.Canceled)
	wantKeys(t, "Claim after a canceled Claim", claim(t, sc, store.KindQuery, at(10), 10), newOrder("BIZ2", 1).OutTradeNo)
	reschedule(t, sc, held[0], at(20))
	if got := get(t, s, o.OutTradeNo).NextDue; !sameDue(got, at(20)) {
		t.Errorf("NextDue: got %v, want %v", got, at(20))
	}
}

// testScheduleCarriesExpiry: a claimed attempt's copy carries its
// ExpiresAt, which the reconciler's schedule is computed from, and an
// attempt without one comes back with the zero time (not, say, the epoch,
// which would close it at once).
func testScheduleCarriesExpiry(t *testing.T, s store.OrderStore, sc store.Scheduler) {
	with := newOrder("BIZX", 1)
	with.NextDue, with.ExpiresAt = at(1), at(7200)
	create(t, s, with)
	without := due(t, s, "BIZX", 2, at(2))
	cs := claim(t, sc, store.KindQuery, at(10), 10)
	wantKeys(t, "Claim", cs, with.OutTradeNo, without.OutTradeNo)
	for i, want := range []*store.Order{with, without} {
		if i >= len(cs) {
			break
		}
		if o := cs[i].Order; o == nil || !sameExpiry(o.ExpiresAt, want.ExpiresAt) {
			t.Errorf("claim %s: got order %+v, want ExpiresAt %v", cs[i].Key, o, want.ExpiresAt)
		}
	}
}
