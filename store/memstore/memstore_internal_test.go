package memstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestLeasesLeaveNoTrace runs many acquire/release cycles, leases left to
// expire, and waiters that give up, then checks that the lease map is
// empty again and no goroutine is left behind.
func TestLeasesLeaveNoTrace(t *testing.T) {
	baseline := runtime.NumGoroutine()
	s := New()
	ctx := context.Background()

	for i := 0; i < 2000; i++ {
		name := fmt.Sprint("cycle", i%37)
		token, err := s.Acquire(ctx, name, time.Minute)
		if err != nil {
			t.Fatalf("Acquire(%s): got error %v, want nil", name, err)
		}
		if err := s.Release(ctx, name, token); err != nil {
			t.Fatalf("Release(%s): got error %v, want nil", name, err)
		}
	}

	for i := 0; i < 50; i++ {
		if _, err := s.Acquire(ctx, fmt.Sprint("expire", i), time.Millisecond); err != nil {
			t.Fatalf("Acquire(expire%d): got error %v, want nil", i, err)
		}
	}

	// Per name: a holder, two waiters that give up, two that get the
	// lease in turn, and one that takes over an expired lease.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		name := fmt.Sprint("contended", i)
		holder, err := s.Acquire(ctx, name, time.Minute)
		if err != nil {
			t.Fatalf("Acquire(%s): got error %v, want nil", name, err)
		}
		cctx, cancel := context.WithCancel(ctx)
		for w := 0; w < 4; w++ {
			wctx := ctx
			if w < 2 {
				wctx = cctx
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				token, err := s.Acquire(wctx, name, time.Minute)
				if err != nil {
					if !errors.Is(err, context.Canceled) {
						t.Errorf("waiter Acquire(%s): got error %v, want nil or %v", name, err, context.Canceled)
					}
					return
				}
				if err := s.Release(ctx, name, token); err != nil {
					t.Errorf("waiter Release(%s): got error %v, want nil", name, err)
				}
			}()
		}
		cancel()
		if err := s.Release(ctx, name, holder); err != nil {
			t.Fatalf("Release(%s): got error %v, want nil", name, err)
		}
	}
	wg.Wait()
	if _, err := s.Acquire(ctx, "takeover", 5*time.Millisecond); err != nil {
		t.Fatalf("Acquire(takeover): got error %v, want nil", err)
	}
	token, err := s.Acquire(ctx, "takeover", time.Minute)
	if err != nil {
		t.Fatalf("Acquire(takeover) after expiry: got error %v, want nil", err)
	}
	if err := s.Release(ctx, "takeover", token); err != nil {
		t.Fatalf("Release(takeover): got error %v, want nil", err)
	}

	// Expiry timers fire on their own schedule: poll a bounded number of
	// times for the state to settle. This bounds a wait; it asserts no
	// duration.
	var leases, goroutines int
	for i := 0; i < 500; i++ {
		s.lmu.Lock()
		leases = len(s.leases)
		s.lmu.Unlock()
		goroutines = runtime.NumGoroutine()
		if leases == 0 && goroutines <= baseline {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if leases != 0 {
		t.Errorf("leases left in the map: got %d, want 0", leases)
	}
	if goroutines > baseline {
		t.Errorf("goroutines: got %d, want at most the baseline %d", goroutines, baseline)
	}
}

func TestAcquireRejectsNonPositiveTTL(t *testing.T) {
	s := New()
	for _, ttl := range []time.Duration{0, -time.Second} {
		if token, err := s.Acquire(context.Background(), "job", ttl); err == nil {
			t.Errorf("Acquire(ttl=%v): got token %q, want an error", ttl, token)
		}
	}
	if n := len(s.leases); n != 0 {
		t.Errorf("leases after rejected Acquire: got %d, want 0", n)
	}
}
