package sqlstore

import (
	"context"
	"time"
)

// The Store's lease methods delegate to a Locker on the same database and
// prefix, so that wiring a Store alone is safe on several instances.

// Acquire implements store.Locker with the Store's lease table; see
// Locker.Acquire.
func (s *Store) Acquire(ctx context.Context, name string, ttl time.Duration) (string, error) {
	return s.lease.Acquire(ctx, name, ttl)
}

// TryAcquire implements store.TryLocker; see Locker.TryAcquire.
func (s *Store) TryAcquire(ctx context.Context, name string, ttl time.Duration) (string, bool, error) {
	return s.lease.TryAcquire(ctx, name, ttl)
}

// Extend implements store.Extender; see Locker.Extend.
func (s *Store) Extend(ctx context.Context, name, token string, ttl time.Duration) error {
	return s.lease.Extend(ctx, name, token, ttl)
}

// Release implements store.Locker; see Locker.Release.
func (s *Store) Release(ctx context.Context, name, token string) error {
	return s.lease.Release(ctx, name, token)
}
