package handler_test

// Tests for planted bugs in the Settler that the mutation run of issue 16
// §3 found no test for. Each names the plant it kills.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// settleRig is one instance's Settler and Notify over st, with alerts
// recorded and a hook that counts its calls per attempt.
type settleRig struct {
	mem     *memstore.Store
	settler *handler.Settler
	notify  *handler.Notify
	rec     *handlertest.Recorder
	calls   sync.Map // out_trade_no -> *atomic.Int32
}

func newSettleRig(t testing.TB, mem *memstore.Store, cfg handler.SettlerConfig) *settleRig {
	t.Helper()
	r := &settleRig{mem: mem, rec: &handlertest.Recorder{}}
	if cfg.Store == nil {
		cfg.Store = mem
	}
	if cfg.Locker == nil {
		cfg.Locker = mem
	}
	hook := cfg.Fulfill
	cfg.Fulfill = func(ctx context.Context, o store.Order) error {
		n, _ := r.calls.LoadOrStore(o.OutTradeNo, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		if hook != nil {
			return hook(ctx, o)
		}
		return nil
	}
	cfg.Alert, cfg.Logger = r.rec.Alert, quietLogger()
	s, err := handler.NewSettler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.settler = s
	r.notify, err = handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: handlertest.Keyring(), Deadline: time.Minute, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// deliver posts a signed paid notification for o carrying transaction id
// txn and returns the reply body.
func (r *settleRig) deliver(t testing.TB, o *store.Order, txn string) string {
	t.Helper()
	select {
	case got := <-r.deliverAsync(t, o, txn):
		return got
	case <-time.After(bound):
		t.Fatalf("no reply for %s within %v", o.OutTradeNo, bound)
		return ""
	}
}

// deliverAsync is deliver without waiting for the reply.
func (r *settleRig) deliverAsync(t testing.TB, o *store.Order, txn string) <-chan string {
	t.Helper()
	body := signedNotification(t, o, keyFor(o), func(p *gatewaytest.Payment) { p.TransactionID = txn }).Encode()
	reply := make(chan string, 1)
	go func() { reply <- httptestRecorder(r.notify, "POST", "/notify", formType, body).Body.String() }()
	return reply
}

func (r *settleRig) hookCalls(otn string) int32 {
	if n, ok := r.calls.Load(otn); ok {
		return n.(*atomic.Int32).Load()
	}
	return 0
}

func (r *settleRig) alerts(kind handler.AlertKind, otn string) int {
	n := 0
	for _, a := range r.rec.Alerts() {
		if a.Kind == kind && a.OutTradeNo == otn {
			n++
		}
	}
	return n
}

// payAndRefund settles o with transaction id txn straight in the store,
// optionally records it fulfilled, and refunds it in full, so that it
// ends REFUNDED.
func payAndRefund(t testing.TB, mem *memstore.Store, o *store.Order, txn string, fulfilled bool) {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	if _, err := mem.Settle(ctx, o.OutTradeNo, store.Payment{TransactionID: txn, PaidAt: now}, now); err != nil {
		t.Fatal(err)
	}
	if fulfilled {
		if err := mem.MarkFulfilled(ctx, o.OutTradeNo, now); err != nil {
			t.Fatal(err)
		}
	}
	refundInFull(t, mem, o.OutTradeNo)
}

// refundInFull records a full, successful refund of a PAID attempt.
func refundInFull(t testing.TB, mem *memstore.Store, otn string) {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	o := mustGet(t, mem, otn)
	r, _, err := mem.ReserveRefund(ctx, &store.Refund{OutTradeNo: otn, Amount: o.Amount, CreatedAt: now, UpdatedAt: now, NextDue: now}, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.UpdateRefund(ctx, r.OutRefundNo, r.ClaimToken, store.RefundUpdate{State: store.RefundSucceeded, Release: true}, now); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, mem, otn); got.Status != store.Refunded {
		t.Fatalf("%s after a full refund: status %s, want REFUNDED", otn, got.Status)
	}
}

// TestLateCopyOfRefundedPaymentWithAnotherTransaction: a paid
// notification for a REFUNDED attempt that carries another transaction id
// is a second payment, not a late copy of the first: it raises
// AlertTransactionConflict and answers fail; the same transaction id is a
// duplicate. Plant killed: the REFUNDED case answering Duplicate without
// comparing the transaction ids.
func TestLateCopyOfRefundedPaymentWithAnotherTransaction(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	r := newSettleRig(t, mem, handler.SettlerConfig{})
	o := pendingOrder(t, mem, "REFLATE01", "REFLATE0", 1)
	payAndRefund(t, mem, o, "T-FIRST", true)

	if got := r.deliver(t, o, "T-SECOND"); got != "fail" {
		t.Errorf("another transaction id on a REFUNDED attempt: got reply %q, want fail", got)
	}
	if n := r.alerts(handler.AlertTransactionConflict, o.OutTradeNo); n != 1 {
		t.Errorf("transaction-conflict alerts: got %d (%+v), want 1", n, r.rec.Alerts())
	}
	if got := r.deliver(t, o, "T-FIRST"); got != "success" {
		t.Errorf("late copy of the refunded payment: got reply %q, want success", got)
	}
	if n := len(r.rec.Alerts()); n != 1 {
		t.Errorf("alerts after the late copy: got %d (%+v), want still 1", n, r.rec.Alerts())
	}
	if n := r.hookCalls(o.OutTradeNo); n != 0 {
		t.Errorf("hook calls: got %d, want 0", n)
	}
}

// raceStore lets a concurrent settlement win the race: its first Settle
// settles the attempt with the winner's payment just before the caller's
// own compare-and-set runs.
type raceStore struct {
	*memstore.Store
	winner store.Payment
	once   sync.Once
}

func (s *raceStore) Settle(ctx context.Context, otn string, p store.Payment, now time.Time) (bool, error) {
	s.once.Do(func() {
		if _, err := s.Store.Settle(ctx, otn, s.winner, now); err != nil {
			panic(err)
		}
	})
	return s.Store.Settle(ctx, otn, p, now)
}

// TestSettleLosesRaceToAnotherTransaction: a settlement that read the
// attempt PENDING and then lost the compare-and-set to one with another
// transaction id judges what the winner recorded: AlertTransactionConflict
// and fail, not a duplicate's success. Plant killed: store.ErrConflict from
// Settle answered as Duplicate.
func TestSettleLosesRaceToAnotherTransaction(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	rs := &raceStore{Store: mem, winner: store.Payment{TransactionID: "T-WINNER", PaidAt: time.Now()}}
	r := newSettleRig(t, mem, handler.SettlerConfig{Store: rs})
	o := pendingOrder(t, mem, "RACE00001", "RACE0", 1)

	if got := r.deliver(t, o, "T-LOSER"); got != "fail" {
		t.Errorf("lost the race to another transaction id: got reply %q, want fail", got)
	}
	if n := r.alerts(handler.AlertTransactionConflict, o.OutTradeNo); n != 1 {
		t.Errorf("transaction-conflict alerts: got %d (%+v), want 1", n, r.rec.Alerts())
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Paid || got.TransactionID != "T-WINNER" {
		t.Errorf("order: got %s %s, want PAID with the winner's transaction", got.Status, got.TransactionID)
	}
}

// hookLocker runs before once, just as the first lease is granted: what
// another process did between the settlement and the lease.
type hookLocker struct {
	store.Locker
	before func()
	once   sync.Once
}

func (l *hookLocker) Acquire(ctx context.Context, name string, ttl time.Duration) (string, error) {
	tok, err := l.Locker.Acquire(ctx, name, ttl)
	if err == nil {
		l.once.Do(l.before)
	}
	return tok, err
}

// TestHookSkipsAttemptRefundedBeforeLease: an attempt refunded in full
// between its settlement and the moment the lease is taken is not PAID
// any more: the hook must not ship it. Plant killed: the re-read under the
// lease checking Fulfilled only (or not re-reading at all).
func TestHookSkipsAttemptRefundedBeforeLease(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	var o *store.Order
	lk := &hookLocker{Locker: mem, before: func() { refundInFull(t, mem, o.OutTradeNo) }}
	r := newSettleRig(t, mem, handler.SettlerConfig{Locker: lk})
	o = pendingOrder(t, mem, "REFBEF001", "REFBEF0", 1)

	r.deliver(t, o, "T1")
	if n := r.hookCalls(o.OutTradeNo); n != 0 {
		t.Errorf("hook calls for an attempt refunded before the lease: got %d, want 0", n)
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Refunded || got.Fulfilled {
		t.Errorf("order: got %s fulfilled %v, want REFUNDED, not fulfilled", got.Status, got.Fulfilled)
	}
}

// markFailStore fails MarkFulfilled a given number of times (negative:
// always), counting the calls.
type markFailStore struct {
	*memstore.Store
	fails  atomic.Int32
	calls  atomic.Int32
	called chan struct{} // a token per call, if not nil and room
}

func (s *markFailStore) MarkFulfilled(ctx context.Context, otn string, now time.Time) error {
	s.calls.Add(1)
	select {
	case s.called <- struct{}{}:
	default:
	}
	if s.fails.Load() < 0 || s.fails.Add(-1) >= 0 {
		return errInjected
	}
	return s.Store.MarkFulfilled(ctx, otn, now)
}

// TestFailedRecordAfterHookAnswersFail: when the hook returned nil but
// its record cannot be made, the payment's delivery answers fail (the
// gateway comes back), never success, and the attempt stays unfulfilled.
// Plant killed: the MarkFulfilled error dropped, answering Settled.
func TestFailedRecordAfterHookAnswersFail(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	ms := &markFailStore{Store: mem}
	ms.fails.Store(-1)
	// RecordFor short: the outcome does not depend on how many tries fit.
	r := newSettleRig(t, mem, handler.SettlerConfig{Store: ms, RecordFor: 10 * time.Millisecond})
	o := pendingOrder(t, mem, "RECFAIL01", "RECFAIL0", 1)

	if got := r.deliver(t, o, "T1"); got != "fail" {
		t.Errorf("record failed after the hook: got reply %q, want fail", got)
	}
	if n := r.hookCalls(o.OutTradeNo); n != 1 {
		t.Errorf("hook calls: got %d, want 1", n)
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Paid || got.Fulfilled {
		t.Errorf("order: got %s fulfilled %v, want PAID, not fulfilled", got.Status, got.Fulfilled)
	}
}

// TestRefundedSiblingStillFulfilled: a business order whose first attempt
// was fulfilled and then refunded has shipped: a payment of its second
// attempt is a double payment (alert), not a reason to ship again. Plant
// killed: rereadUnderLease counting only PAID siblings.
func TestRefundedSiblingStillFulfilled(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	r := newSettleRig(t, mem, handler.SettlerConfig{})
	first := pendingOrder(t, mem, "SIBREF001", "SIBREF0", 1)
	second := pendingOrder(t, mem, "SIBREF002", "SIBREF0", 2)
	payAndRefund(t, mem, first, "T-FIRST", true)

	if got := r.deliver(t, second, "T-SECOND"); got != "success" {
		t.Errorf("second attempt: got reply %q, want success (paid, the alert asks for a refund)", got)
	}
	if n := r.hookCalls(second.OutTradeNo); n != 0 {
		t.Errorf("hook calls for the second attempt: got %d, want 0 (the order shipped with the first)", n)
	}
	if n := r.alerts(handler.AlertDoublePayment, second.OutTradeNo); n != 1 {
		t.Errorf("double-payment alerts: got %d (%+v), want 1", n, r.rec.Alerts())
	}
}

// listFailStore fails ListByBusinessID while failing is set.
type listFailStore struct {
	*memstore.Store
	failing atomic.Bool
}

func (s *listFailStore) ListByBusinessID(ctx context.Context, id string) ([]*store.Order, error) {
	if s.failing.Load() {
		return nil, errInjected
	}
	return s.Store.ListByBusinessID(ctx, id)
}

// TestFailedSiblingListingIsNotNoSibling: when the business order's
// attempts cannot be listed, the Settler cannot know whether another
// attempt shipped: it answers fail and runs no hook, and the next
// delivery, with the store back, ships once. Plant killed: a listing error
// read as "no other attempt".
func TestFailedSiblingListingIsNotNoSibling(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	ls := &listFailStore{Store: mem}
	ls.failing.Store(true)
	r := newSettleRig(t, mem, handler.SettlerConfig{Store: ls})
	o := pendingOrder(t, mem, "LISTFAIL1", "LISTFAIL", 1)

	if got := r.deliver(t, o, "T1"); got != "fail" {
		t.Errorf("attempts not listed: got reply %q, want fail", got)
	}
	if n := r.hookCalls(o.OutTradeNo); n != 0 {
		t.Errorf("hook calls without the listing: got %d, want 0", n)
	}
	ls.failing.Store(false)
	if got := r.deliver(t, o, "T1"); got != "success" {
		t.Errorf("redelivery with the store back: got reply %q, want success", got)
	}
	if n := r.hookCalls(o.OutTradeNo); n != 1 {
		t.Errorf("hook calls after the redelivery: got %d, want 1", n)
	}
}

// staleListStore lists a business order's attempts without the one named
// in hide, as a store reading from a lagging replica might.
type staleListStore struct {
	*memstore.Store
	hide string
}

func (s *staleListStore) ListByBusinessID(ctx context.Context, id string) ([]*store.Order, error) {
	all, err := s.Store.ListByBusinessID(ctx, id)
	var out []*store.Order
	for _, o := range all {
		if o.OutTradeNo != s.hide {
			out = append(out, o)
		}
	}
	return out, err
}

// TestRereadWhenListingOmitsAttempt: under the lease the Settler rereads
// the attempt from the listing of its business order (one read for the
// attempt and its siblings); a listing that lacks the attempt is not
// trusted, the attempt is read directly, and the hook runs once. Plant
// killed: no direct read (a nil attempt).
func TestRereadWhenListingOmitsAttempt(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	r := newSettleRig(t, mem, handler.SettlerConfig{Store: &staleListStore{Store: mem, hide: "STALELS01"}})
	o := pendingOrder(t, mem, "STALELS01", "STALELS0", 1)

	if got := r.deliver(t, o, "T1"); got != "success" {
		t.Errorf("got reply %q, want success", got)
	}
	if n := r.hookCalls(o.OutTradeNo); n != 1 {
		t.Errorf("hook calls: got %d, want 1", n)
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Paid || !got.Fulfilled {
		t.Errorf("order: got %s fulfilled %v, want PAID and fulfilled", got.Status, got.Fulfilled)
	}
}

// TestHookContextEndsWithPlainLease: with a Locker that cannot extend, the
// hook's context carries a deadline no later than the lease's end (the
// lease was taken before the hook started, so before start + LockTTL).
// Unlike TestLeaseWithoutExtendEndsHookContext it looks at the deadline
// itself, so a context that outlives the lease is caught without waiting
// for it. Plant killed: a deadline past the lease (2 × LockTTL, or none).
func TestHookContextEndsWithPlainLease(t *testing.T) {
	t.Parallel()
	// Long, so that the test never waits for it, and shorter than the
	// rig's reply deadline (a minute), which would otherwise bound the
	// hook's context first and hide a late lease deadline.
	const ttl = 20 * time.Second
	mem := memstore.New()
	var deadline time.Time
	var hasDeadline bool
	var latest time.Time
	r := newSettleRig(t, mem, handler.SettlerConfig{Locker: plainLocker{mem}, LockTTL: ttl,
		Fulfill: func(ctx context.Context, _ store.Order) error {
			latest = time.Now().Add(ttl)
			deadline, hasDeadline = ctx.Deadline()
			return nil
		}})
	o := pendingOrder(t, mem, "PLAINDL01", "PLAINDL0", 1)
	if got := r.deliver(t, o, "T1"); got != "success" {
		t.Fatalf("got reply %q, want success", got)
	}
	if !hasDeadline {
		t.Fatal("the hook's context has no deadline: it may outlive the lease")
	}
	if deadline.After(latest) {
		t.Errorf("hook deadline %v is after the lease's end (at the latest %v)", deadline, latest)
	}
}

// TestRecordRetriedUnderLease (issue 16 §4): a database that fails for a
// while right after the hook returned nil costs a late reply, not a second
// run: the Settler keeps trying MarkFulfilled, under the lease, until it
// succeeds, so the delivery answers success and no later delivery ships
// again. Plant killed: a fixed three tries, after which the lease was
// released and the next delivery ran the hook a second time.
func TestRecordRetriedUnderLease(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	ms := &markFailStore{Store: mem}
	ms.fails.Store(5)
	// RecordFor is a bound here, never a wait: the sixth try succeeds.
	r := newSettleRig(t, mem, handler.SettlerConfig{Store: ms, RecordFor: bound})
	o := pendingOrder(t, mem, "RECORD001", "RECORD0", 1)

	if got := r.deliver(t, o, "T1"); got != "success" {
		t.Errorf("record failed five times, then held: got reply %q, want success", got)
	}
	if got := r.deliver(t, o, "T1"); got != "success" {
		t.Errorf("duplicate: got reply %q, want success", got)
	}
	if n := r.hookCalls(o.OutTradeNo); n != 1 {
		t.Errorf("hook calls: got %d, want 1", n)
	}
	if n := ms.calls.Load(); n != 6 {
		t.Errorf("MarkFulfilled calls: got %d, want 6 (five failures, one success)", n)
	}
	if got := mustGet(t, mem, o.OutTradeNo); !got.Fulfilled {
		t.Error("not fulfilled")
	}
}

// TestUnrecordedHookKeepsLease (issue 16 §4): when the record still fails
// after RecordFor, the lease is not released: duplicates and the other
// attempts of the business order cannot run the hook again until it runs
// out, by the lease's own clock. Then the next delivery does. Plant killed:
// releasing the lease after a failed record.
func TestUnrecordedHookKeepsLease(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	mem, lk := memstore.New(), newClockLocker()
	ms := &markFailStore{Store: mem}
	ms.fails.Store(-1)
	// The store is shown to the Settler as an OrderStore only: a store
	// that is a Locker would fence lk's lease with its own (fence.go),
	// which runs on the real clock, not lk's.
	r := newSettleRig(t, mem, handler.SettlerConfig{Store: orderStoreOnly{ms}, Locker: lk, LockTTL: ttl, RecordFor: 10 * time.Millisecond})
	o := pendingOrder(t, mem, "KEEPL0001", "KEEPL0", 1)
	other := pendingOrder(t, mem, "KEEPL0002", "KEEPL0", 2)

	if got := r.deliver(t, o, "T1"); got != "fail" {
		t.Errorf("record failed: got reply %q, want fail", got)
	}
	if got := r.deliver(t, o, "T1"); got != "success" {
		t.Errorf("duplicate while the lease is kept: got reply %q, want success (the payment is durable)", got)
	}
	if n := r.hookCalls(o.OutTradeNo); n != 1 {
		t.Errorf("hook calls while the lease is kept: got %d, want 1", n)
	}
	if _, ok, err := lk.TryAcquire(context.Background(), "cypay:business:"+o.BusinessID, ttl); err != nil || ok {
		t.Errorf("the business order's lease after a failed record: TryAcquire got (ok %v, %v), want held", ok, err)
	}
	// A second paid attempt of the same order waits for the lease too.
	ms.fails.Store(0)
	reply := r.deliverAsync(t, other, "T2")
	select {
	case <-lk.acquires:
	case <-time.After(bound):
		t.Fatalf("the other attempt's delivery did not wait for the lease within %v", bound)
	}
	if n := r.hookCalls(other.OutTradeNo); n != 0 {
		t.Errorf("hook ran for the other attempt while the lease was kept: %d calls", n)
	}
	lk.Advance(ttl) // the kept lease runs out
	select {
	case got := <-reply:
		if got != "success" {
			t.Errorf("other attempt after the lease ran out: got reply %q, want success", got)
		}
	case <-time.After(bound):
		t.Fatalf("no reply for the other attempt within %v", bound)
	}
	// Only now may the hook run again: for the other attempt, which finds
	// no fulfilled sibling (the first run was never recorded). Hence
	// the idempotency key: the business order, not the attempt.
	if n := r.hookCalls(other.OutTradeNo); n != 1 {
		t.Errorf("hook calls for the other attempt after the lease ran out: got %d, want 1", n)
	}
}

// TestRecordRenewsLease (issue 16 §4): while the Settler keeps trying the
// record, it keeps renewing the lease, so that a record that takes longer
// than LockTTL still holds it: no Extend is refused and nothing else runs
// the hook. The renewals come when the test fires the Settler's renewal
// waits, as in TestLongHookKeepsLease; the lease's clock moves only
// after the test saw a renewal.
// Plant killed: the renewal stopped when the hook returned.
func TestRecordRenewsLease(t *testing.T) {
	t.Parallel()
	// A real minute before the Settler would give the lease up by its own
	// clock, as in TestLongHookKeepsLease; the lease's expiry follows
	// lk's clock.
	const ttl = time.Minute
	mem, lk := memstore.New(), newClockLocker()
	ms := &markFailStore{Store: mem, called: make(chan struct{}, 1)}
	ms.fails.Store(-1)
	r := newSettleRig(t, mem, handler.SettlerConfig{Store: ms, Locker: lk, LockTTL: ttl, RecordFor: 2 * time.Minute})
	renew := newRenewals(r.settler)
	o := pendingOrder(t, mem, "RENEW0001", "RENEW0", 1)

	reply := r.deliverAsync(t, o, "T1")
	select {
	case <-ms.called:
	case <-time.After(bound):
		t.Fatalf("no MarkFulfilled within %v", bound)
	}
	// 2 × 0.9 TTL of lease time while the record fails: more than a TTL.
	for i := range 2 {
		lk.drainExtended()
		renew.fire(t, ttl/3)
		select {
		case <-lk.extended:
		case <-time.After(bound):
			t.Fatalf("round %d: the lease was not renewed during the record within %v", i, bound)
		}
		lk.Advance(ttl * 9 / 10)
		if got := r.deliver(t, o, "T1"); got != "success" {
			t.Errorf("round %d: duplicate: got reply %q, want success", i, got)
		}
	}
	ms.fails.Store(0)
	select {
	case got := <-reply:
		if got != "success" {
			t.Errorf("record held at last: got reply %q, want success", got)
		}
	case <-time.After(bound):
		t.Fatalf("no reply within %v", bound)
	}
	if n := r.hookCalls(o.OutTradeNo); n != 1 {
		t.Errorf("hook calls: got %d, want 1", n)
	}
	if n := lk.notHeld.Load(); n != 0 {
		t.Errorf("Extends refused: got %d, want 0 (the lease was held throughout)", n)
	}
	if got := mustGet(t, mem, o.OutTradeNo); !got.Fulfilled {
		t.Error("not fulfilled")
	}
}

// brokenExtender is an Extender whose Extend always fails with a passing
// error (a database that does not answer), never ErrNotHeld.
type brokenExtender struct {
	store.Locker
	tries atomic.Int32
}

func (l *brokenExtender) Extend(context.Context, string, string, time.Duration) error {
	l.tries.Add(1)
	return errInjected
}

// TestUnrenewableLeaseEndsHookContext: when every renewal fails with a
// passing error, the hook's context ends with cause ErrLeaseLost once the
// lease would have run out, instead of the Settler retrying the renewal
// while the hook runs on unprotected. Plant killed: retrying a failed
// Extend with no regard for the lease's expiry.
func TestUnrenewableLeaseEndsHookContext(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	lk := &brokenExtender{Locker: mem}
	hook := newHeldHook(true)
	rig := newLeaseRig(t, mem, lk, 60*time.Millisecond, hook.Fulfill)
	o := pendingOrder(t, mem, "NOEXT0001", "NOEXT0", 1)
	reply := rig.send(t, o)
	hook.waitStart(t)
	wantReply(t, "delivery whose lease could not be renewed", reply, "fail")
	hook.mu.Lock()
	causes := hook.causes
	hook.mu.Unlock()
	if len(causes) != 1 || !errors.Is(causes[0], handler.ErrLeaseLost) {
		t.Errorf("hook context causes: got %v, want [%v]", causes, handler.ErrLeaseLost)
	}
	if n := lk.tries.Load(); n < 1 {
		t.Errorf("Extend tries: got %d, want at least 1", n)
	}
}

// TestRecordNotRetriedOnceRefunded: an attempt refunded in full while its
// hook ran can never be recorded fulfilled (MarkFulfilled is ErrConflict
// on a non-PAID attempt), so the Settler answers fail at once instead of
// trying for RecordFor, and later copies are late copies of a refunded
// payment. Plant killed: ErrConflict retried like a passing error.
func TestRecordNotRetriedOnceRefunded(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	ms := &markFailStore{Store: mem}
	var o *store.Order
	// RecordFor far beyond the reply's bound: retrying would be seen.
	r := newSettleRig(t, mem, handler.SettlerConfig{Store: ms, RecordFor: time.Hour,
		Fulfill: func(context.Context, store.Order) error {
			refundInFull(t, mem, o.OutTradeNo)
			return nil
		}})
	o = pendingOrder(t, mem, "REFDUR001", "REFDUR0", 1)

	if got := r.deliver(t, o, "T1"); got != "fail" {
		t.Errorf("attempt refunded while its hook ran: got reply %q, want fail", got)
	}
	if n := ms.calls.Load(); n != 1 {
		t.Errorf("MarkFulfilled calls: got %d, want 1", n)
	}
	if got := r.deliver(t, o, "T1"); got != "success" {
		t.Errorf("late copy: got reply %q, want success", got)
	}
	if n := r.hookCalls(o.OutTradeNo); n != 1 {
		t.Errorf("hook calls: got %d, want 1", n)
	}
}

// orderStoreOnly hides every interface of a store but store.OrderStore.
type orderStoreOnly struct{ store.OrderStore }
