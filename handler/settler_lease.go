package handler

import (
	"context"
	"errors"
	"time"

	"github.com/cypaykit/kit/store"
)

// tryLease takes the lease name if nobody holds it and reports ok=false
// if someone does. With a Locker that cannot try (no store.TryLocker) it
// waits in Acquire instead, as every delivery did before TryLocker.
func (s *Settler) tryLease(ctx context.Context, name string) (token string, ok bool, err error) {
	if tl, can := s.locker.(store.TryLocker); can {
		return tl.TryAcquire(ctx, name, s.ttl)
	}
	token, err = s.locker.Acquire(ctx, name, s.ttl)
	return token, err == nil, err
}

// keepLease keeps the lease name (taken at about acquired) for as long as
// the returned context lives, and ends that context with cause
// ErrLeaseLost when it cannot: once the lease is lost, another holder may
// run the hook, so the work under it should stop. stop ends the renewal;
// call it before releasing the lease.
//
// With a store.Extender the lease is extended every LockTTL/3, so a hook
// may outlast LockTTL; an Extend that fails for another reason than
// ErrNotHeld is retried until the lease would have run out. Without one,
// the context simply ends when the lease does.
func (s *Settler) keepLease(ctx context.Context, name, token string, acquired time.Time) (context.Context, func()) {
	ext, ok := s.locker.(store.Extender)
	if !ok {
		dctx, cancel := context.WithDeadlineCause(ctx, acquired.Add(s.ttl), ErrLeaseLost)
		return dctx, cancel
	}
	hctx, cancel := context.WithCancelCause(ctx)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		expiry := acquired.Add(s.ttl)
		every := max(s.ttl/3, time.Millisecond)
		fire, stop := s.renewAfter(every)
		defer func() { stop() }()
		for {
			select {
			case <-quit:
				return
			case <-hctx.Done():
				return
			case <-fire:
			}
			start := time.Now()
			ectx, ecancel := context.WithDeadline(hctx, expiry)
			err := ext.Extend(ectx, name, token, s.ttl)
			ecancel()
			next := every
			switch {
			case err == nil:
				expiry = start.Add(s.ttl)
			case errors.Is(err, store.ErrNotHeld), !time.Now().Before(expiry):
				cancel(ErrLeaseLost)
				return
			default:
				// A passing database error: try again soon, while the
				// lease still runs.
				next = max(every/4, time.Millisecond)
			}
			fire, stop = s.renewAfter(next)
		}
	}()
	return hctx, func() {
		close(quit)
		<-done
		cancel(nil)
	}
}
