package handler

import (
	"context"
	"reflect"
	"strings"
	"time"

	"github.com/cypaykit/kit/store"
)

// fencedLocker takes every lease twice: on the configured Locker (Redis,
// say), which excludes quickly, and on the order store's own leases (the
// fence), which live with the orders. A Redis failover can lose a lease
// (replication is asynchronous), and a second instance would then take it
// and run the fulfilment hook beside the first; the store's lease is as
// durable as the orders, so it still excludes: the first instance
// releases it only when its hook has returned. The first instance's hook
// context still ends with ErrLeaseLost at its next renewal, as with any
// lost lease, so a hook that honours its context stops soon after.
type fencedLocker struct {
	outer, fence store.Locker
}

// fencedExtender is a fencedLocker whose outer Locker can extend, so
// that the Settler renews both leases while the hook runs.
type fencedExtender struct{ fencedLocker }

var (
	_ store.TryLocker = fencedLocker{}
	_ store.Extender  = fencedExtender{}
)

// fenced returns outer fenced by the store's leases, an Extender exactly
// when outer is one (a Locker that cannot extend ends the hook at its TTL,
// and the fence must not change that).
func fenced(outer, fence store.Locker) store.Locker {
	f := fencedLocker{outer: outer, fence: fence}
	if _, ok := outer.(store.Extender); ok {
		return fencedExtender{f}
	}
	return f
}

// fenceName is the fence's lease name for name: a different row from the
// outer lease's, should both lockers keep their leases in one table (a
// sqlstore.Locker beside its Store), where one name would wait on itself.
func fenceName(name string) string { return "fence:" + name }

// sameLocker reports whether a and b are one Locker, without comparing
// values whose type cannot be compared.
func sameLocker(a, b store.Locker) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

// tokenSep joins the two tokens; lease tokens are never multi-line.
const tokenSep = "\n"

func splitToken(token string) (outer, fence string) {
	outer, fence, _ = strings.Cut(token, tokenSep)
	return outer, fence
}

func (f fencedLocker) Acquire(ctx context.Context, name string, ttl time.Duration) (string, error) {
	outer, err := f.outer.Acquire(ctx, name, ttl)
	if err != nil {
		return "", err
	}
	fence, err := f.fence.Acquire(ctx, fenceName(name), ttl)
	if err != nil {
		f.releaseOuter(ctx, name, outer)
		return "", err
	}
	return outer + tokenSep + fence, nil
}

func (f fencedLocker) TryAcquire(ctx context.Context, name string, ttl time.Duration) (string, bool, error) {
	outer, ok, err := try(ctx, f.outer, name, ttl)
	if err != nil || !ok {
		return "", false, err
	}
	fence, ok, err := try(ctx, f.fence, fenceName(name), ttl)
	if err != nil || !ok {
		f.releaseOuter(ctx, name, outer)
		return "", false, err
	}
	return outer + tokenSep + fence, true, nil
}

// try is TryAcquire where l has it, Acquire otherwise.
func try(ctx context.Context, l store.Locker, name string, ttl time.Duration) (string, bool, error) {
	if tl, ok := l.(store.TryLocker); ok {
		return tl.TryAcquire(ctx, name, ttl)
	}
	tok, err := l.Acquire(ctx, name, ttl)
	return tok, err == nil, err
}

func (f fencedLocker) releaseOuter(ctx context.Context, name, token string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = f.outer.Release(rctx, name, token)
}

// Extend renews both leases and reports either's loss: the outer lease
// lost in a failover ends the hook's context like any lost lease, while
// the fence, held until the hook returns, keeps a second run out.
func (f fencedExtender) Extend(ctx context.Context, name, token string, ttl time.Duration) error {
	outer, fence := splitToken(token)
	err := f.outer.(store.Extender).Extend(ctx, name, outer, ttl)
	if e, ok := f.fence.(store.Extender); ok {
		if ferr := e.Extend(ctx, fenceName(name), fence, ttl); err == nil {
			err = ferr
		}
	}
	return err
}

func (f fencedLocker) Release(ctx context.Context, name, token string) error {
	outer, fence := splitToken(token)
	err := f.outer.Release(ctx, name, outer)
	if ferr := f.fence.Release(ctx, fenceName(name), fence); err == nil {
		err = ferr
	}
	return err
}
