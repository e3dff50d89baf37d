package handler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// TestFenceOnlyAnotherLocker: the Settler fences a Locker with the store's
// leases exactly when they are two lockers. Another instance of the same
// type (a second memstore, a second Redis client) is another locker and is
// fenced: skipping the fence there loses the failover protection. The store
// itself is not fenced by itself (one lease, not two in one table).
// Mutants killed: the type comparison and the value comparison of
// sameLocker inverted.
func TestFenceOnlyAnotherLocker(t *testing.T) {
	t.Parallel()
	mem, other := memstore.New(), memstore.New()
	if !sameLocker(mem, mem) {
		t.Error("sameLocker(store, store) = false: the store would fence itself")
	}
	if sameLocker(other, mem) {
		t.Error("sameLocker(another memstore, store) = true: another locker of the same type would go unfenced")
	}
	if sameLocker(uncomparableLocker{Store: other}, mem) {
		t.Error("sameLocker(another type, store) = true")
	}

	s, err := NewSettler(SettlerConfig{Store: mem, Locker: other})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.locker.(fencedExtender); !ok {
		t.Errorf("Settler with another memstore as Locker: locker is %T, want fenced", s.locker)
	}
	s, err = NewSettler(SettlerConfig{Store: mem, Locker: mem})
	if err != nil {
		t.Fatal(err)
	}
	if s.locker != store.Locker(mem) {
		t.Errorf("Settler with the store as Locker: locker is %T, want the store itself", s.locker)
	}
}

// uncomparableLocker is a Locker whose dynamic type cannot be compared
// with ==, which sameLocker must not do.
type uncomparableLocker struct {
	*memstore.Store
	_ []int
}

// TestFenceReportsLostFence: when the outer lease is fine but the fence's
// is gone (expired, taken over), Extend and Release report it: a hook whose
// fence is lost no longer excludes a second run and must end like any hook
// whose lease is lost. Mutants killed: the fence's error dropped when the
// outer call succeeded (Extend, Release).
func TestFenceReportsLostFence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	outer, fence := memstore.New(), memstore.New()
	l := fenced(outer, fence).(store.Extender)
	const name, ttl = "cypay:business:FENCE1", time.Minute

	token, err := l.(store.Locker).Acquire(ctx, name, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Extend(ctx, name, token, ttl); err != nil {
		t.Fatalf("Extend with both leases held: %v", err)
	}
	// The fence's lease is lost behind the Settler's back.
	_, fenceToken := splitToken(token)
	if err := fence.Release(ctx, fenceName(name), fenceToken); err != nil {
		t.Fatal(err)
	}
	if err := l.Extend(ctx, name, token, ttl); !errors.Is(err, store.ErrNotHeld) {
		t.Errorf("Extend with the fence lost: got %v, want ErrNotHeld", err)
	}
	if err := l.(store.Locker).Release(ctx, name, token); !errors.Is(err, store.ErrNotHeld) {
		t.Errorf("Release with the fence lost: got %v, want ErrNotHeld", err)
	}
	// The outer lease was released all the same.
	if _, ok, err := outer.TryAcquire(ctx, name, ttl); err != nil || !ok {
		t.Errorf("outer lease after Release: TryAcquire got (%v, %v), want free", ok, err)
	}
}
