package handler_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// memoEnv is an env whose store counts its calls.
func memoEnv(t *testing.T, memo int) (*env, *countingStore) {
	t.Helper()
	var cs *countingStore
	e := newEnv(t, envOptions{memo: memo, wrap: func(m *memstore.Store) store.OrderStore {
		cs = &countingStore{OrderStore: m}
		return cs
	}})
	return e, cs
}

// memoCopy is the notification the gateway sends, copy after copy, for a
// paid order: fixed ids and time, so that two envs see the same facts.
func memoCopy(t testing.TB, o *store.Order) url.Values {
	return signedNotification(t, o, keyFor(o), func(p *gatewaytest.Payment) {
		p.TransactionID = "T" + o.OutTradeNo
		p.OutTransactionID = "C" + o.OutTradeNo
		p.TimeEnd = time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
		p.NonceStr = "nonce" + o.OutTradeNo
	})
}

// settledAndSeen pays o and sends one copy, which reads the store and
// finds it settled and fulfilled.
func settledAndSeen(t *testing.T, e *env, o *store.Order) {
	t.Helper()
	for i, want := range []handler.Outcome{handler.Settled, handler.Duplicate} {
		before := e.Rec.Count(want)
		if got := e.PostNotify(t, memoCopy(t, o)); got != "success" {
			t.Fatalf("delivery %d of %s: got %q, want success", i+1, o.OutTradeNo, got)
		}
		if e.Rec.Count(want) != before+1 {
			t.Fatalf("delivery %d of %s: no %v event", i+1, o.OutTradeNo, want)
		}
	}
}

// TestDuplicateMemoSkipsTheStore: once a copy has found its attempt
// settled and fulfilled, further copies are answered success with no
// store call at all, and each is still reported as a Duplicate.
func TestDuplicateMemoSkipsTheStore(t *testing.T) {
	t.Parallel()
	e, cs := memoEnv(t, 0)
	o := e.CreatePending(t, "MEMO0001", mchA, model.V2, 1800)
	settledAndSeen(t, e, o)
	cs.calls.Store(0)
	dups := e.Rec.Count(handler.Duplicate)
	const copies = 20
	for i := range copies {
		if got := e.PostNotify(t, memoCopy(t, o)); got != "success" {
			t.Fatalf("copy %d: got %q, want success", i, got)
		}
	}
	if n := cs.calls.Load(); n != 0 {
		t.Errorf("store calls for %d remembered copies: got %d, want 0", copies, n)
	}
	if got := e.Rec.Count(handler.Duplicate) - dups; got != copies {
		t.Errorf("Duplicate events: got %d, want %d", got, copies)
	}
	if n := e.Hooks.Calls(o.OutTradeNo); n != 1 {
		t.Errorf("hook calls: got %d, want 1", n)
	}

	// With the memo off every copy reads the store.
	off, offCalls := memoEnv(t, -1)
	o = off.CreatePending(t, "MEMO0001", mchA, model.V2, 1800)
	settledAndSeen(t, off, o)
	offCalls.calls.Store(0)
	off.PostNotify(t, memoCopy(t, o))
	if offCalls.calls.Load() == 0 {
		t.Error("DuplicateMemo -1: a copy made no store call")
	}
}

// TestDuplicateMemoAnswersAsTheStoreWould sends, after the memo has
// learnt of a settled, fulfilled attempt, every kind of message about it
// that differs from the remembered copy, to a handler with the memo and
// one without: the replies, events, alerts, hook calls and stored orders
// must be the same, for v1 and v2 orders.
func TestDuplicateMemoAnswersAsTheStoreWould(t *testing.T) {
	t.Parallel()
	type variant struct {
		name string
		make func(t testing.TB, o *store.Order) url.Values
	}
	resign := func(key func(o *store.Order) string, edit func(v url.Values)) func(testing.TB, *store.Order) url.Values {
		return func(t testing.TB, o *store.Order) url.Values {
			v := memoCopy(t, o)
			edit(v)
			return resigned(t, v, key(o))
		}
	}
	set := func(k, val string) func(url.Values) { return func(v url.Values) { v.Set(k, val) } }
	variants := []variant{
		{"the copy", memoCopy},
		{"another nonce", resign(keyFor, set("nonce_str", "othernonce"))},
		{"another amount", resign(keyFor, set("total_fee", "1801"))},
		{"another transaction_id", resign(keyFor, set("transaction_id", "TOTHER"))},
		{"another out_transaction_id", resign(keyFor, set("out_transaction_id", "COTHER"))},
		{"another time_end", resign(keyFor, set("time_end", "20261201110000"))},
		{"a time_end that is no date", resign(keyFor, set("time_end", "20261231250000"))},
		{"failed payment", resign(keyFor, set("pay_result", "1"))},
		{"failed exchange", resign(keyFor, set("state", "1"))},
		{"result_code FAIL", resign(keyFor, set("result_code", "FAIL"))},
		{"no transaction_id", resign(keyFor, func(v url.Values) { v.Del("transaction_id") })},
		{"no total_fee", resign(keyFor, func(v url.Values) { v.Del("total_fee") })},
		{"another merchant under its own key", func(t testing.TB, o *store.Order) url.Values {
			v := memoCopy(t, o)
			v.Set("mch_id", mchB)
			return resigned(t, v, keyB)
		}},
		{"another merchant under the order's key", resign(keyFor, set("mch_id", mchB))},
		{"the other version's key", func(t testing.TB, o *store.Order) url.Values {
			key := agentKey
			if o.Version == model.V1 {
				key = merchants[o.MchID]
			}
			return resigned(t, memoCopy(t, o), key)
		}},
		{"a bad sign", func(t testing.TB, o *store.Order) url.Values {
			v := memoCopy(t, o)
			v.Set("sign", "00000000000000000000000000000000")
			return v
		}},
		{"the copy again", memoCopy},
	}

	type seen struct {
		Status    int
		Body      string
		Outcome   handler.Outcome
		Alerts    []handler.AlertKind
		HookCalls int
		State     store.Status
		Txn       string
		Fulfilled bool
		Reason    string
	}
	observe := func(t *testing.T, e *env, o *store.Order, v url.Values) seen {
		alerts := len(e.Rec.Alerts())
		status, body := e.Post(t, "/notify", formType, v.Encode())
		events := e.Rec.Events()
		last := events[len(events)-1]
		s := seen{Status: status, Body: body, Outcome: last.Outcome, HookCalls: e.Hooks.Calls(o.OutTradeNo)}
		for _, a := range e.Rec.Alerts()[alerts:] {
			s.Alerts = append(s.Alerts, a.Kind)
		}
		cur := e.Get(t, o.OutTradeNo)
		s.State, s.Txn, s.Fulfilled, s.Reason = cur.Status, cur.TransactionID, cur.Fulfilled, cur.Reason
		return s
	}

	for _, ver := range []model.Version{model.V1, model.V2} {
		t.Run(string(ver), func(t *testing.T) {
			t.Parallel()
			on, onCalls := memoEnv(t, 0)
			off, _ := memoEnv(t, -1)
			oOn := on.CreatePending(t, "MEMO0002", mchA, ver, 1800)
			oOff := off.CreatePending(t, "MEMO0002", mchA, ver, 1800)
			settledAndSeen(t, on, oOn)
			settledAndSeen(t, off, oOff)
			for _, vr := range variants {
				onCalls.calls.Store(0)
				got := observe(t, on, oOn, vr.make(t, oOn))
				want := observe(t, off, oOff, vr.make(t, oOff))
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("%s: with the memo (-without +with):\n%s", vr.name, d)
				}
				if vr.name == "the copy" && onCalls.calls.Load() != 0 {
					t.Errorf("%s: the memo was not used (%d store calls)", vr.name, onCalls.calls.Load())
				}
			}
		})
	}
}

// TestDuplicateMemoWaitsForFulfilment: a copy that finds the attempt PAID
// while another holder has its lease answers success (Duplicate) without
// the hook having run; it must not be remembered, or the next copy after
// the holder failed would not run the hook.
func TestDuplicateMemoWaitsForFulfilment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	o := e.CreatePending(t, "MEMO0003", mchA, model.V2, 1800)
	ctx := context.Background()
	// Paid, not fulfilled, and the business order's lease held elsewhere.
	if _, err := e.Mem.Settle(ctx, o.OutTradeNo, store.Payment{
		TransactionID: "T" + o.OutTradeNo, PaidAt: e.Clock.Now()}, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	lease := "cypay:business:" + o.BusinessID
	tok, err := e.Mem.Acquire(ctx, lease, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if got := e.PostNotify(t, memoCopy(t, o)); got != "success" {
			t.Fatalf("copy %d while the lease is held: got %q, want success", i, got)
		}
	}
	if n := e.Hooks.Calls(o.OutTradeNo); n != 0 {
		t.Fatalf("hook ran %d times while the lease was held elsewhere", n)
	}
	if err := e.Mem.Release(ctx, lease, tok); err != nil {
		t.Fatal(err)
	}
	if got := e.PostNotify(t, memoCopy(t, o)); got != "success" {
		t.Fatalf("copy after release: got %q, want success", got)
	}
	if n := e.Hooks.OK(o.OutTradeNo); n != 1 {
		t.Errorf("hook runs after the lease came free: got %d, want 1 (a remembered copy skipped it)", n)
	}
}

// TestDuplicateMemoForgets: a remembered attempt is asked of the store
// again once its ten minutes have passed.
func TestDuplicateMemoForgets(t *testing.T) {
	t.Parallel()
	e, cs := memoEnv(t, 0)
	o := e.CreatePending(t, "MEMO0004", mchA, model.V2, 1800)
	settledAndSeen(t, e, o)
	e.Clock.Advance(9 * time.Minute)
	cs.calls.Store(0)
	e.PostNotify(t, memoCopy(t, o))
	if n := cs.calls.Load(); n != 0 {
		t.Fatalf("after 9 minutes: %d store calls, want 0", n)
	}
	e.Clock.Advance(time.Minute + time.Second)
	if got := e.PostNotify(t, memoCopy(t, o)); got != "success" {
		t.Fatalf("after 10 minutes: got %q, want success", got)
	}
	if cs.calls.Load() == 0 {
		t.Error("after 10 minutes the store was not asked again")
	}
}
