package handler_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// bound ends a test that waits for something that never comes; it is
// never a performance claim.
const bound = 10 * time.Second

// clockLocker is a store.Locker, TryLocker and Extender whose leases
// expire by a clock the test moves, so a test decides exactly when a
// lease would have run out, whatever the scheduler does.
type clockLocker struct {
	mu       sync.Mutex
	now      time.Time
	leases   map[string]clockLease
	seq      int
	changed  chan struct{} // closed and replaced when a lease may have freed
	extended chan string   // the name of each successful Extend, if room
	acquires chan string   // the name of each Acquire that found the lease held, if room
	notHeld  atomic.Int32  // Extends refused
}

type clockLease struct {
	token  string
	expiry time.Time
}

func newClockLocker() *clockLocker {
	return &clockLocker{
		now: time.Unix(1_700_000_000, 0), leases: map[string]clockLease{},
		changed: make(chan struct{}), extended: make(chan string, 1), acquires: make(chan string, 16),
	}
}

var (
	_ store.TryLocker = (*clockLocker)(nil)
	_ store.Extender  = (*clockLocker)(nil)
)

// Advance moves the leases' clock.
func (l *clockLocker) Advance(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = l.now.Add(d)
	close(l.changed)
	l.changed = make(chan struct{})
}

// takeLocked takes name if it is free, else returns the channel to wait on.
func (l *clockLocker) takeLocked(name string, ttl time.Duration) (string, <-chan struct{}) {
	if cur, ok := l.leases[name]; ok && l.now.Before(cur.expiry) {
		return "", l.changed
	}
	l.seq++
	tok := strconv.Itoa(l.seq)
	l.leases[name] = clockLease{token: tok, expiry: l.now.Add(ttl)}
	return tok, nil
}

func (l *clockLocker) Acquire(ctx context.Context, name string, ttl time.Duration) (string, error) {
	told := false
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		l.mu.Lock()
		tok, wait := l.takeLocked(name, ttl)
		l.mu.Unlock()
		if wait == nil {
			return tok, nil
		}
		if !told {
			told = true
			select {
			case l.acquires <- name:
			default:
			}
		}
		select {
		case <-wait:
		case <-ctx.Done():
		}
	}
}

func (l *clockLocker) TryAcquire(ctx context.Context, name string, ttl time.Duration) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tok, wait := l.takeLocked(name, ttl)
	return tok, wait == nil, nil
}

func (l *clockLocker) Extend(ctx context.Context, name, token string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.leases[name]
	if !ok || cur.token != token || !l.now.Before(cur.expiry) {
		l.notHeld.Add(1)
		return store.ErrNotHeld
	}
	l.leases[name] = clockLease{token: token, expiry: l.now.Add(ttl)}
	select {
	case l.extended <- name:
	default:
	}
	return nil
}

func (l *clockLocker) Release(ctx context.Context, name, token string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.leases[name]
	if !ok || cur.token != token || !l.now.Before(cur.expiry) {
		return store.ErrNotHeld
	}
	delete(l.leases, name)
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

// drainExtended forgets Extends that happened before now.
func (l *clockLocker) drainExtended() {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.extended:
	default:
	}
}

// heldHook is a fulfilment hook that blocks until released (or, with
// honourCtx, until its context ends), counting calls and overlaps per
// business order.
type heldHook struct {
	honourCtx bool
	started   chan string // the out_trade_no of each call, as it starts
	finish    chan struct{}

	calls, inside, overlaps atomic.Int32
	mu                      sync.Mutex
	causes                  []error
}

func newHeldHook(honourCtx bool) *heldHook {
	return &heldHook{honourCtx: honourCtx, started: make(chan string, 16), finish: make(chan struct{})}
}

func (h *heldHook) Fulfill(ctx context.Context, o store.Order) error {
	h.calls.Add(1)
	if h.inside.Add(1) > 1 {
		h.overlaps.Add(1)
	}
	defer h.inside.Add(-1)
	h.started <- o.OutTradeNo
	if !h.honourCtx {
		<-h.finish
		return nil
	}
	select {
	case <-h.finish:
		return nil
	case <-ctx.Done():
		h.mu.Lock()
		h.causes = append(h.causes, context.Cause(ctx))
		h.mu.Unlock()
		return ctx.Err()
	}
}

func (h *heldHook) waitStart(t testing.TB) string {
	t.Helper()
	select {
	case otn := <-h.started:
		return otn
	case <-time.After(bound):
		t.Fatalf("fulfilment hook did not start within %v", bound)
		return ""
	}
}

// leaseRig is one instance's Settler and Notify over a memstore for the
// orders and the given locker, with a long reply deadline so that only
// the lease decides what runs.
type leaseRig struct {
	mem     *memstore.Store
	settler *handler.Settler
	notify  *handler.Notify
}

func newLeaseRig(t testing.TB, mem *memstore.Store, lk store.Locker, ttl time.Duration, hook func(context.Context, store.Order) error) *leaseRig {
	t.Helper()
	s, err := handler.NewSettler(handler.SettlerConfig{
		Store: mem, Locker: lk, LockTTL: ttl, Fulfill: hook, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: handlertest.Keyring(), Deadline: time.Minute, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return &leaseRig{mem: mem, settler: s, notify: n}
}

// send posts a signed notification for o and returns the reply body, on
// a channel so that the test can wait for it with a bound.
func (r *leaseRig) send(t testing.TB, o *store.Order) <-chan string {
	t.Helper()
	body := signedNotification(t, o, keyFor(o), func(p *gatewaytest.Payment) {
		p.TransactionID = "T" + o.OutTradeNo // duplicates carry the same payment
	}).Encode()
	reply := make(chan string, 1)
	go func() {
		w := httptestRecorder(r.notify, "POST", "/notify", formType, body)
		reply <- w.Body.String()
	}()
	return reply
}

func wantReply(t testing.TB, what string, reply <-chan string, want string) {
	t.Helper()
	select {
	case got := <-reply:
		if got != want {
			t.Errorf("%s: got reply %q, want %q", what, got, want)
		}
	case <-time.After(bound):
		t.Fatalf("%s: no reply within %v", what, bound)
	}
}

func mustGet(t testing.TB, st store.OrderStore, otn string) *store.Order {
	t.Helper()
	o, err := st.Get(context.Background(), otn)
	if err != nil {
		t.Fatalf("get %s: %v", otn, err)
	}
	return o
}

func pendingOrder(t testing.TB, mem *memstore.Store, otn, businessID string, attempt int) *store.Order {
	t.Helper()
	now := time.Now()
	o := &store.Order{
		OutTradeNo: otn, BusinessID: businessID, Attempt: attempt, MchID: mchA,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: 990, Status: store.Pending, CreatedAt: now, UpdatedAt: now,
	}
	if err := mem.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestDuplicateDoesNotQueueBehindFulfilment: while the first delivery's
// hook runs, a duplicate of the now PAID order answers success at once
// instead of waiting for the lease (issue 8.3): the payment is durable
// and the fulfilment is already owned by the lease's holder.
func TestDuplicateDoesNotQueueBehindFulfilment(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	hook := newHeldHook(false)
	rig := newLeaseRig(t, mem, mem, time.Minute, hook.Fulfill)
	o := pendingOrder(t, mem, "QUEUE0001", "QUEUE0", 1)
	first := rig.send(t, o)
	hook.waitStart(t)
	for i := range 3 {
		wantReply(t, fmt.Sprintf("duplicate %d while the hook runs", i), rig.send(t, o), "success")
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Paid || got.Fulfilled {
		t.Errorf("while the hook runs: got status %s fulfilled %v, want PAID, not yet fulfilled", got.Status, got.Fulfilled)
	}
	close(hook.finish)
	wantReply(t, "first delivery", first, "success")
	if n := hook.calls.Load(); n != 1 {
		t.Errorf("hook calls: got %d, want 1", n)
	}
	if got := mustGet(t, mem, o.OutTradeNo); !got.Fulfilled {
		t.Error("after the hook returned: not fulfilled")
	}
}

// TestLongHookKeepsLease (issue 9.5): a hook that runs more than three
// LockTTLs keeps its lease, because the Settler renews it every LockTTL/3;
// meanwhile duplicate deliveries and reconciler passes cannot start a
// second run. The renewals come when the test fires the Settler's
// renewal waits (checking each asked for LockTTL/3), and the lease's
// clock moves only after the test has seen a renewal, so the outcome
// does not depend on how fast anything is scheduled.
func TestLongHookKeepsLease(t *testing.T) {
	t.Parallel()
	// Real time still matters to the Settler, which gives a lease up once
	// it could not renew it before the lease's real expiry: a minute
	// leaves any loaded machine time for a round, while the lease's own
	// expiry follows lk's clock.
	const ttl = time.Minute
	mem, lk := memstore.New(), newClockLocker()
	hook := newHeldHook(false)
	rig := newLeaseRig(t, mem, lk, ttl, hook.Fulfill)
	renew := newRenewals(rig.settler)
	gw, err := client.New(client.Config{Keys: handlertest.Keyring(), GatewayURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: rig.settler, Client: gw, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	o := pendingOrder(t, mem, "LONG00001", "LONG0", 1)
	first := rig.send(t, o)
	hook.waitStart(t)
	// 4 × 0.9 TTL of lease time: more than three TTLs.
	for i := range 4 {
		lk.drainExtended()
		renew.fire(t, ttl/3)
		select {
		case <-lk.extended:
		case <-time.After(bound):
			t.Fatalf("round %d: the lease was not renewed within %v", i, bound)
		}
		lk.Advance(ttl * 9 / 10)
		wantReply(t, fmt.Sprintf("round %d: duplicate", i), rig.send(t, o), "success")
		// The pass's retry waits for the held lease until its context ends.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_ = rec.RunOnce(ctx)
		cancel()
	}
	if n := hook.calls.Load(); n != 1 {
		t.Errorf("hook calls while the first still runs: got %d, want 1", n)
	}
	close(hook.finish)
	wantReply(t, "first delivery", first, "success")
	if n := hook.overlaps.Load(); n != 0 {
		t.Errorf("overlapping hook runs: got %d, want 0", n)
	}
	if n := hook.calls.Load(); n != 1 {
		t.Errorf("hook calls: got %d, want 1", n)
	}
	if got := mustGet(t, mem, o.OutTradeNo); !got.Fulfilled {
		t.Error("not fulfilled")
	}
}

// renewals puts a Settler's lease renewal waits in the test's hands:
// each wait the Settler starts is handed over, and the renewal comes when
// the test fires it.
type renewals struct{ waits chan renewWait }

type renewWait struct {
	d    time.Duration
	fire chan time.Time
}

func newRenewals(s *handler.Settler) *renewals {
	r := &renewals{waits: make(chan renewWait, 64)}
	handler.SetRenewAfter(s, func(d time.Duration) (<-chan time.Time, func() bool) {
		w := renewWait{d: d, fire: make(chan time.Time, 1)}
		r.waits <- w
		return w.fire, func() bool { return true }
	})
	return r
}

// fire waits for the Settler's next renewal wait, checks that it is
// want long, and ends it at once.
func (r *renewals) fire(t testing.TB, want time.Duration) {
	t.Helper()
	select {
	case w := <-r.waits:
		if w.d != want {
			t.Errorf("renewal wait: got %v, want %v", w.d, want)
		}
		w.fire <- time.Now()
	case <-time.After(bound):
		t.Fatalf("the Settler started no renewal wait within %v", bound)
	}
}

// TestLeaseLostEndsHookContext: when the lease is lost all the same (its
// time ran out before a renewal), the first refused Extend ends the
// hook's context with cause ErrLeaseLost (no second try: ErrNotHeld is
// final), the reply is fail and the order stays unfulfilled.
func TestLeaseLostEndsHookContext(t *testing.T) {
	t.Parallel()
	// Long in real time, so that the first renewal (at TTL/3) comes well
	// before the Settler would give the lease up by its own clock: the
	// refusal, not the time, must end the run.
	const ttl = 3 * time.Second
	mem, lk := memstore.New(), newClockLocker()
	hook := newHeldHook(true)
	rig := newLeaseRig(t, mem, lk, ttl, hook.Fulfill)
	o := pendingOrder(t, mem, "LOST00001", "LOST0", 1)
	first := rig.send(t, o)
	hook.waitStart(t)
	lk.Advance(2 * ttl) // the lease runs out before the next renewal
	wantReply(t, "delivery whose lease was lost", first, "fail")
	hook.mu.Lock()
	causes := hook.causes
	hook.mu.Unlock()
	if len(causes) != 1 || !errors.Is(causes[0], handler.ErrLeaseLost) {
		t.Errorf("hook context causes: got %v, want [%v]", causes, handler.ErrLeaseLost)
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Paid || got.Fulfilled {
		t.Errorf("order: got status %s fulfilled %v, want PAID and not fulfilled (retried later)", got.Status, got.Fulfilled)
	}
	if n := lk.notHeld.Load(); n != 1 {
		t.Errorf("Extends refused with ErrNotHeld: got %d, want 1 (the first ends the run)", n)
	}
}

// plainLocker hides every method but store.Locker's.
type plainLocker struct{ store.Locker }

// TestLeaseWithoutExtendEndsHookContext: with a Locker that cannot
// extend, the hook's context ends with cause ErrLeaseLost when the lease
// would run out, rather than running on unprotected.
func TestLeaseWithoutExtendEndsHookContext(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	hook := newHeldHook(true)
	rig := newLeaseRig(t, mem, plainLocker{mem}, 50*time.Millisecond, hook.Fulfill)
	o := pendingOrder(t, mem, "PLAIN0001", "PLAIN0", 1)
	reply := rig.send(t, o)
	hook.waitStart(t)
	wantReply(t, "delivery whose lease ran out", reply, "fail")
	hook.mu.Lock()
	causes := hook.causes
	hook.mu.Unlock()
	if len(causes) != 1 || !errors.Is(causes[0], handler.ErrLeaseLost) {
		t.Errorf("hook context causes: got %v, want [%v]", causes, handler.ErrLeaseLost)
	}
}

// hiccupExtender is a memstore Locker whose first Extend fails with a
// passing error (a database that missed one answer); later Extends are
// the memstore's, each success reported on renewed.
type hiccupExtender struct {
	*memstore.Store
	tries   atomic.Int32
	renewed chan struct{}
}

func (l *hiccupExtender) Extend(ctx context.Context, name, token string, ttl time.Duration) error {
	if l.tries.Add(1) == 1 {
		return errInjected
	}
	err := l.Store.Extend(ctx, name, token, ttl)
	if err == nil {
		select {
		case l.renewed <- struct{}{}:
		default:
		}
	}
	return err
}

// TestLeaseRenewalRetriedSoon: a renewal that fails with a passing error
// is tried again soon (a quarter of the renewal period), well inside the
// lease, so one missed answer does not cost the hook its lease. Mutant
// killed (gremlins, lease.go): the retry spaced every*4 apart, past the
// lease's end, so the hook's context ended with ErrLeaseLost; the test
// now sees the wait asked for (TTL/3, then TTL/12 after the failure) and
// fires it, so neither wait is spent in real time.
func TestLeaseRenewalRetriedSoon(t *testing.T) {
	t.Parallel()
	// A real minute before the Settler would give the lease up by its own
	// clock, as in TestLongHookKeepsLease.
	const ttl = time.Minute
	mem := memstore.New()
	lk := &hiccupExtender{Store: memstore.New(), renewed: make(chan struct{}, 1)}
	hook := newHeldHook(true)
	rig := newLeaseRig(t, mem, lk, ttl, hook.Fulfill)
	renew := newRenewals(rig.settler)
	o := pendingOrder(t, mem, "HICUP0001", "HICUP0", 1)
	reply := rig.send(t, o)
	hook.waitStart(t)
	renew.fire(t, ttl/3)  // the first Extend fails
	renew.fire(t, ttl/12) // the retry
	select {
	case <-lk.renewed:
		close(hook.finish)
	case got := <-reply:
		t.Fatalf("the delivery ended before a renewal succeeded: reply %q", got)
	case <-time.After(bound):
		t.Fatalf("no successful renewal within %v", bound)
	}
	wantReply(t, "delivery whose renewal was retried", reply, "success")
	hook.mu.Lock()
	causes := hook.causes
	hook.mu.Unlock()
	if len(causes) != 0 {
		t.Errorf("hook context causes: got %v, want none", causes)
	}
	if n := lk.tries.Load(); n < 2 {
		t.Errorf("Extend tries: got %d, want at least 2 (one failure, then the retry)", n)
	}
}

// TestLeasePerBusinessOrder (issue 8.10): two attempts of one business
// order, paid at the same moment, must not both run the hook: the lease
// is the business order's, not the attempt's. The second attempt's
// delivery must wait for the first's lease (seen by the locker) rather
// than start its own hook; then it finds the order fulfilled and raises
// AlertDoublePayment.
func TestLeasePerBusinessOrder(t *testing.T) {
	t.Parallel()
	mem, lk := memstore.New(), newClockLocker()
	hook := newHeldHook(false)
	rec := &handlertest.Recorder{}
	s, err := handler.NewSettler(handler.SettlerConfig{
		Store: mem, Locker: lk, LockTTL: time.Minute, Fulfill: hook.Fulfill, Alert: rec.Alert, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: handlertest.Keyring(), Deadline: time.Minute, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rig := &leaseRig{mem: mem, settler: s, notify: n}
	a1 := pendingOrder(t, mem, "TWICE0001", "TWICE0", 1)
	a2 := pendingOrder(t, mem, "TWICE0002", "TWICE0", 2)
	r1 := rig.send(t, a1)
	hook.waitStart(t)
	r2 := rig.send(t, a2)
	select {
	case otn := <-hook.started:
		t.Fatalf("the hook started for %s while %s's still ran: the lease is per attempt", otn, a1.OutTradeNo)
	case <-lk.acquires:
		// The second delivery waits on the same lease: as it should.
	case <-time.After(bound):
		t.Fatalf("the second attempt's delivery neither waited for the lease nor ran the hook within %v", bound)
	}
	close(hook.finish)
	wantReply(t, "first attempt", r1, "success")
	wantReply(t, "second attempt", r2, "success")
	if c, ov := hook.calls.Load(), hook.overlaps.Load(); c != 1 || ov != 0 {
		t.Errorf("hook: got %d calls, %d overlaps; want 1, 0", c, ov)
	}
	var doubles int
	for _, a := range rec.Alerts() {
		if a.Kind == handler.AlertDoublePayment && a.OutTradeNo == a2.OutTradeNo {
			doubles++
		}
	}
	if doubles != 1 {
		t.Errorf("double-payment alerts for %s: got %d (%v), want 1", a2.OutTradeNo, doubles, rec.Alerts())
	}
}
