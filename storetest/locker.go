package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
)

var lockerTests = []lockerTest{
	{"LockMutualExclusion", testLockMutualExclusion},
	{"LockReleaseWakesWaiter", testLockReleaseWakesWaiter},
	{"LockExpiry", testLockExpiry},
	{"LockReleaseNotHeld", testLockReleaseNotHeld},
	{"LockStaleToken", testLockStaleToken},
	{"LockAcquireDeadline", testLockAcquireDeadline},
	{"LockAcquireCanceled", testLockAcquireCanceled},
	{"LockIndependentNames", testLockIndependentNames},
	{"LockContextCanceled", testLockContextCanceled},
}

const (
	// generous bounds how long an Acquire that must succeed may wait; it
	// only ends a broken test, it is never a performance claim.
	generous = 20 * time.Second
	// long is a TTL no test outlives, so only a Release frees the lease.
	long = time.Minute
	// short is a TTL the test waits out.
	short = 100 * time.Millisecond
	// brief is how long an Acquire that must not succeed gets to try.
	brief = 150 * time.Millisecond
)

func acquire(t testing.TB, l store.Locker, name string, ttl time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), generous)
	defer cancel()
	token, err := l.Acquire(ctx, name, ttl)
	if err != nil {
		t.Fatalf("Acquire(%q, %v): got error %v, want nil", name, ttl, err)
	}
	if token == "" {
		t.Fatalf("Acquire(%q, %v): got empty token", name, ttl)
	}
	return token
}

func release(t testing.TB, l store.Locker, name, token string) {
	t.Helper()
	if err := l.Release(context.Background(), name, token); err != nil {
		t.Fatalf("Release(%q): got error %v, want nil", name, err)
	}
}

// wantHeld fails t unless name is held by somebody: a fresh Acquire must
// run into its deadline.
func wantHeld(t testing.TB, l store.Locker, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), brief)
	defer cancel()
	token, err := l.Acquire(ctx, name, long)
	if err == nil {
		t.Errorf("Acquire(%q) while held: got token, want %v", name, context.DeadlineExceeded)
		_ = l.Release(context.Background(), name, token)
		return
	}
	wantErr(t, fmt.Sprintf("Acquire(%q) while held", name), err, context.DeadlineExceeded)
}

// peerTests run on two instances of a Locker over the same data
// (Harness.Peer).
var peerTests = []peerTest{
	{"LockPeerSeesHeld", testLockPeerSeesHeld},
	{"LockPeerMutualExclusion", testLockPeerMutualExclusion},
}

// testLockPeerSeesHeld: a lease taken by one instance is held for the
// other, in both directions, and a release by the holder frees it for the
// other at once.
func testLockPeerSeesHeld(t *testing.T, l, peer store.Locker) {
	for _, pair := range [][2]store.Locker{{l, peer}, {peer, l}} {
		holder, other := pair[0], pair[1]
		token := acquire(t, holder, "peer", long)
		wantHeld(t, other, "peer")
		release(t, holder, "peer", token)
		release(t, other, "peer", acquire(t, other, "peer", long))
	}
}

// testLockPeerMutualExclusion is testLockMutualExclusion with the
// workers split between the two instances, as two processes of a host
// contend for one order's lease.
func testLockPeerMutualExclusion(t *testing.T, l, peer store.Locker) {
	mutualExclusion(t, l, peer)
}

// testLockMutualExclusion has goroutines increment a counter with a
// deliberately racy read-yield-write inside the lease, and checks both that
// no two holders overlap and that no increment is lost.
func testLockMutualExclusion(t *testing.T, l store.Locker) { mutualExclusion(t, l) }

// mutualExclusion is testLockMutualExclusion with worker w on
// lockers[w%len(lockers)].
func mutualExclusion(t *testing.T, lockers ...store.Locker) {
	const workers, rounds = 8, 5
	var inside atomic.Int32
	var overlaps atomic.Int32
	counter := 0
	var mu sync.Mutex // only makes the race detector quiet about counter; see below
	errs := make(chan error, workers*rounds)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		l := lockers[w%len(lockers)]
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				ctx, cancel := context.WithTimeout(context.Background(), generous)
				token, err := l.Acquire(ctx, "mutex", long)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("Acquire: %w", err)
					return
				}
				if !inside.CompareAndSwap(0, 1) {
					overlaps.Add(1)
				}
				// Read, yield, write: two holders at once lose an
				// increment. The mutex is taken per access, not across the
				// yield, so it orders memory without excluding anyone.
				mu.Lock()
				v := counter
				mu.Unlock()
				runtime.Gosched()
				time.Sleep(time.Millisecond)
				mu.Lock()
				counter = v + 1
				mu.Unlock()
				inside.Store(0)
				if err := l.Release(context.Background(), "mutex", token); err != nil {
					errs <- fmt.Errorf("Release: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("worker: got error %v, want nil", err)
	}
	if n := overlaps.Load(); n != 0 {
		t.Errorf("holders inside the lease at once: got %d overlaps, want 0", n)
	}
	if counter != workers*rounds {
		t.Errorf("counter: got %d, want %d (increments lost to overlapping holders)", counter, workers*rounds)
	}
}

// testLockReleaseWakesWaiter checks that a waiter gets the lease once it is
// released, long before the TTL would have freed it.
func testLockReleaseWakesWaiter(t *testing.T, l store.Locker) {
	first := acquire(t, l, "job", long)
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), generous)
		defer cancel()
		token, err := l.Acquire(ctx, "job", long)
		if err == nil {
			err = l.Release(context.Background(), "job", token)
		}
		got <- err
	}()
	wantHeld(t, l, "job")
	release(t, l, "job", first)
	if err := <-got; err != nil {
		t.Errorf("waiting Acquire after Release: got error %v, want nil", err)
	}
}

// testLockExpiry lets a lease run out: another caller takes it, and the
// first holder's late Release must not free the new holder's lease.
func testLockExpiry(t *testing.T, l store.Locker) {
	stale := acquire(t, l, "job", short)
	// Waits for the short lease to expire, bounded by expiryBound as the
	// other expiry waits are: a lease that never expires fails here in
	// 5 s rather than generous's 20.
	ctx, cancel := context.WithTimeout(context.Background(), expiryBound)
	defer cancel()
	next, err := l.Acquire(ctx, "job", long)
	if err != nil {
		t.Fatalf("Acquire of a %v lease: got %v after %v, want it once expired", short, err, expiryBound)
	}
	if next == stale {
		t.Fatalf("Acquire after expiry: got the expired token again")
	}
	wantErr(t, "Release(expired token)", l.Release(context.Background(), "job", stale), store.ErrNotHeld)
	wantHeld(t, l, "job")
	release(t, l, "job", next)
}

func testLockReleaseNotHeld(t *testing.T, l store.Locker) {
	ctx := context.Background()
	token := acquire(t, l, "job", long)
	wantErr(t, "Release(wrong token)", l.Release(ctx, "job", "not-the-token"), store.ErrNotHeld)
	wantErr(t, "Release(empty token)", l.Release(ctx, "job", ""), store.ErrNotHeld)
	wantErr(t, "Release(other name)", l.Release(ctx, "other", token), store.ErrNotHeld)
	wantErr(t, "Release(never acquired)", l.Release(ctx, "never", "x"), store.ErrNotHeld)
	wantHeld(t, l, "job")
	release(t, l, "job", token)
	wantErr(t, "Release(twice)", l.Release(ctx, "job", token), store.ErrNotHeld)
}

// testLockStaleToken checks that a token dies with its holding: after a
// release and a new Acquire, the old token cannot free the new lease.
func testLockStaleToken(t *testing.T, l store.Locker) {
	old := acquire(t, l, "job", long)
	release(t, l, "job", old)
	cur := acquire(t, l, "job", long)
	if cur == old {
		t.Errorf("Acquire after Release: got the same token %q twice, want a fresh one", cur)
	}
	wantErr(t, "Release(stale token)", l.Release(context.Background(), "job", old), store.ErrNotHeld)
	wantHeld(t, l, "job")
	release(t, l, "job", cur)
}

func testLockAcquireDeadline(t *testing.T, l store.Locker) {
	token := acquire(t, l, "job", long)
	wantHeld(t, l, "job")
	release(t, l, "job", token)
	acquire(t, l, "job", long)
}

func testLockAcquireCanceled(t *testing.T, l store.Locker) {
	token := acquire(t, l, "job", long)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, "job", long)
		got <- err
	}()
	time.Sleep(brief) // let it start waiting; the test passes either way
	cancel()
	select {
	case err := <-got:
		wantErr(t, "Acquire(canceled while waiting)", err, context.Canceled)
	case <-time.After(generous):
		t.Fatalf("Acquire(canceled while waiting): still blocked after %v", generous)
	}
	release(t, l, "job", token)
}

func testLockIndependentNames(t *testing.T, l store.Locker) {
	a := acquire(t, l, "order:A", long)
	b := acquire(t, l, "order:B", long)
	prefix := acquire(t, l, "order:", long)
	wantHeld(t, l, "order:A")
	release(t, l, "order:B", b)
	wantHeld(t, l, "order:A")
	release(t, l, "order:A", a)
	release(t, l, "order:", prefix)
}

// testLockContextCanceled calls Acquire and Release with a context that has
// already ended.
func testLockContextCanceled(t *testing.T, l store.Locker) {
	held := acquire(t, l, "held", long)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	token, err := l.Acquire(ctx, "free", long)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire(free, canceled ctx): got (%q, %v), want %v", token, err, context.Canceled)
	}
	if err == nil {
		_ = l.Release(context.Background(), "free", token)
	}
	_, err = l.Acquire(ctx, "held", long)
	wantErr(t, "Acquire(held, canceled ctx)", err, context.Canceled)
	wantErr(t, "Release(canceled ctx)", l.Release(ctx, "held", held), context.Canceled)
	wantHeld(t, l, "held")
	release(t, l, "free", acquire(t, l, "free", long))
	release(t, l, "held", held)
}
