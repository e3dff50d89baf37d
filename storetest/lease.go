package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
)

// leaseTests cover the optional lease capabilities, store.TryLocker and
// store.Extender. A locker without the capability skips them.
var leaseTests = []lockerTest{
	{"LockTryAcquire", testLockTryAcquire},
	{"LockTryAcquireExpired", testLockTryAcquireExpired},
	{"LockTryAcquireCanceled", testLockTryAcquireCanceled},
	{"LockExtend", testLockExtend},
	{"LockExtendNotHeld", testLockExtendNotHeld},
	{"LockExtendOutlivesTTL", testLockExtendOutlivesTTL},
	{"LockExtendCanceled", testLockExtendCanceled},
}

// renewTTL is the first TTL of a lease that LockExtendOutlivesTTL extends.
// It is long enough for Extend to come well inside it on a loaded machine;
// a round where it did not is retried, not failed.
const renewTTL = 400 * time.Millisecond

// expiryBound is how long a test waits for a short lease to expire; it
// only ends a broken test sooner than generous would.
const expiryBound = 5 * time.Second

func tryLocker(t *testing.T, l store.Locker) store.TryLocker {
	t.Helper()
	tl, ok := l.(store.TryLocker)
	if !ok {
		t.Skip("storetest: locker has no TryAcquire (store.TryLocker)")
	}
	return tl
}

func extender(t *testing.T, l store.Locker) store.Extender {
	t.Helper()
	e, ok := l.(store.Extender)
	if !ok {
		t.Skip("storetest: locker has no Extend (store.Extender)")
	}
	return e
}

func tryAcquire(t testing.TB, l store.TryLocker, name string, ttl time.Duration) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), generous)
	defer cancel()
	token, ok, err := l.TryAcquire(ctx, name, ttl)
	if err != nil {
		t.Fatalf("TryAcquire(%q, %v): got error %v, want nil", name, ttl, err)
	}
	if ok == (token == "") {
		t.Fatalf("TryAcquire(%q, %v): got (%q, %v), want a token exactly when ok", name, ttl, token, ok)
	}
	return token, ok
}

// testLockTryAcquire: a free lease is taken, a held one is refused without
// waiting and without disturbing its holder, and a released one is free.
func testLockTryAcquire(t *testing.T, l store.Locker) {
	tl := tryLocker(t, l)
	first, ok := tryAcquire(t, tl, "job", long)
	if !ok {
		t.Fatal("TryAcquire of a free lease: got ok=false, want the lease")
	}
	if tok, ok := tryAcquire(t, tl, "job", long); ok {
		t.Fatalf("TryAcquire of a held lease: got token %q, want ok=false", tok)
	}
	wantHeld(t, l, "job")
	other, ok := tryAcquire(t, tl, "other", long)
	if !ok {
		t.Fatal("TryAcquire of another name: got ok=false, want the lease")
	}
	release(t, l, "job", first)
	second, ok := tryAcquire(t, tl, "job", long)
	if !ok {
		t.Fatal("TryAcquire after Release: got ok=false, want the lease")
	}
	if second == first {
		t.Errorf("TryAcquire after Release: got the released token again")
	}
	wantErr(t, "Release(released token)", l.Release(context.Background(), "job", first), store.ErrNotHeld)
	release(t, l, "job", second)
	release(t, l, "other", other)
}

// testLockTryAcquireExpired: an expired lease is free for TryAcquire, and
// the old holder can no longer release it.
func testLockTryAcquireExpired(t *testing.T, l store.Locker) {
	tl := tryLocker(t, l)
	stale := acquire(t, l, "job", short)
	deadline := time.Now().Add(expiryBound)
	for {
		tok, ok := tryAcquire(t, tl, "job", long)
		if ok {
			wantErr(t, "Release(expired token)", l.Release(context.Background(), "job", stale), store.ErrNotHeld)
			release(t, l, "job", tok)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("TryAcquire of a %v lease: still ok=false after %v", short, expiryBound)
		}
		time.Sleep(short / 4) // waiting out the TTL, not synchronising
	}
}

func testLockTryAcquireCanceled(t *testing.T, l store.Locker) {
	tl := tryLocker(t, l)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tok, ok, err := tl.TryAcquire(ctx, "job", long)
	if !errors.Is(err, context.Canceled) || ok {
		t.Errorf("TryAcquire(canceled ctx): got (%q, %v, %v), want %v and nothing held", tok, ok, err, context.Canceled)
	}
	if ok {
		// Reported above; freed so that the check below asks only
		// whether a lease was taken behind a refusal, instead of
		// waiting out generous on the one just reported.
		_ = l.Release(context.Background(), "job", tok)
	}
	release(t, l, "job", acquire(t, l, "job", long))
}

// testLockExtend: the holder extends its lease, which stays its own.
func testLockExtend(t *testing.T, l store.Locker) {
	e := extender(t, l)
	token := acquire(t, l, "job", long)
	if err := e.Extend(context.Background(), "job", token, long); err != nil {
		t.Fatalf("Extend by the holder: got error %v, want nil", err)
	}
	if err := e.Extend(context.Background(), "job", token, 2*long); err != nil {
		t.Fatalf("Extend by the holder, again: got error %v, want nil", err)
	}
	wantHeld(t, l, "job")
	release(t, l, "job", token)
}

// testLockExtendNotHeld: nobody but the current holder extends a lease,
// and a refused Extend leaves the holder's lease alone.
func testLockExtendNotHeld(t *testing.T, l store.Locker) {
	e := extender(t, l)
	ctx := context.Background()
	token := acquire(t, l, "job", long)
	wantErr(t, "Extend(wrong token)", e.Extend(ctx, "job", "not-the-token", long), store.ErrNotHeld)
	wantErr(t, "Extend(other name)", e.Extend(ctx, "other", token, long), store.ErrNotHeld)
	wantErr(t, "Extend(never acquired)", e.Extend(ctx, "never", "x", long), store.ErrNotHeld)
	wantHeld(t, l, "job")
	release(t, l, "job", token)
	wantErr(t, "Extend(released token)", e.Extend(ctx, "job", token, long), store.ErrNotHeld)
	if tok, err := l.Acquire(ctx, "job", long); err == nil {
		// The failed Extend must not have revived the released lease.
		release(t, l, "job", tok)
	} else {
		t.Errorf("Acquire after Extend of a released lease: got %v, want the lease", err)
	}

	// A lease that ran out, with nobody taking it since, is not revived.
	lapsed := acquire(t, l, "lapsed", short)
	time.Sleep(2 * short) // waiting out the TTL, not synchronising
	err := e.Extend(ctx, "lapsed", lapsed, long)
	wantErr(t, "Extend(lapsed token)", err, store.ErrNotHeld)
	if err == nil {
		// Reported above; freed so that the check below asks only
		// whether a refused Extend revived the lease, instead of
		// waiting out generous on the one just reported.
		_ = l.Release(ctx, "lapsed", lapsed)
	}
	release(t, l, "lapsed", acquire(t, l, "lapsed", long))

	stale := acquire(t, l, "stale", short)
	ctx, cancel := context.WithTimeout(ctx, expiryBound)
	defer cancel()
	next, err := l.Acquire(ctx, "stale", long) // blocks until the short lease expires
	if err != nil {
		t.Fatalf("Acquire of a %v lease: got %v after %v, want it once expired", short, err, expiryBound)
	}
	wantErr(t, "Extend(expired token)", e.Extend(context.Background(), "stale", stale, long), store.ErrNotHeld)
	wantHeld(t, l, "stale")
	release(t, l, "stale", next)
}

// testLockExtendOutlivesTTL: a lease extended before its TTL ran out is
// not taken when that first TTL has passed.
func testLockExtendOutlivesTTL(t *testing.T, l store.Locker) {
	e := extender(t, l)
	for round := 1; ; round++ {
		start := time.Now()
		token := acquire(t, l, "job", renewTTL)
		err := e.Extend(context.Background(), "job", token, long)
		if time.Since(start) >= renewTTL/2 {
			// Too slow to say anything about the lease (a loaded
			// machine): let it lapse and try again.
			_ = l.Release(context.Background(), "job", token)
			if round == 5 {
				t.Skipf("storetest: Extend never came within %v of Acquire in %d rounds", renewTTL/2, round)
			}
			release(t, l, "job", acquire(t, l, "job", long))
			continue
		}
		if err != nil {
			t.Fatalf("Extend by the holder inside its TTL: got error %v, want nil", err)
		}
		// An Acquire that lasts well past the first TTL must not get it.
		ctx, cancel := context.WithTimeout(context.Background(), 3*renewTTL)
		tok, err := l.Acquire(ctx, "job", long)
		cancel()
		if err == nil {
			t.Errorf("Acquire %v after an Extend(%v) of a %v lease: got the lease, want %v", 3*renewTTL, long, renewTTL, context.DeadlineExceeded)
			_ = l.Release(context.Background(), "job", tok)
			return
		}
		wantErr(t, fmt.Sprintf("Acquire of an extended lease past its first TTL %v", renewTTL), err, context.DeadlineExceeded)
		release(t, l, "job", token)
		return
	}
}

func testLockExtendCanceled(t *testing.T, l store.Locker) {
	e := extender(t, l)
	token := acquire(t, l, "job", short)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wantErr(t, "Extend(canceled ctx)", e.Extend(ctx, "job", token, long), context.Canceled)
	// Nothing changed: the short lease still runs out.
	wait, cancelWait := context.WithTimeout(context.Background(), 10*short)
	defer cancelWait()
	next, err := l.Acquire(wait, "job", long)
	if err != nil {
		t.Fatalf("Acquire %v after Extend(canceled ctx) of a %v lease: got %v, want the lease (the Extend must change nothing)", 10*short, short, err)
	}
	release(t, l, "job", next)
}
