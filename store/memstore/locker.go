package memstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/cypaykit/kit/store"
)

// lease is one holding of a name. It leaves Store.leases exactly once —
// on Release, on expiry, or when a late Acquire takes it over — and done
// is closed at that moment to wake every waiter.
type lease struct {
	token  string
	expiry time.Time
	timer  *time.Timer
	done   chan struct{}
}

// Acquire implements store.Locker. Waiters sleep on the current lease's
// done channel, which its release or expiry timer closes; nothing polls,
// and no goroutine outlives the call.
func (s *Store) Acquire(ctx context.Context, name string, ttl time.Duration) (string, error) {
	if err := checkLease(ctx, name, ttl); err != nil {
		return "", err
	}
	for {
		token, done, err := s.take(name, ttl)
		if err != nil || done == nil {
			return token, err
		}
		select {
		case <-done:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// TryAcquire implements store.TryLocker.
func (s *Store) TryAcquire(ctx context.Context, name string, ttl time.Duration) (string, bool, error) {
	if err := checkLease(ctx, name, ttl); err != nil {
		return "", false, err
	}
	token, done, err := s.take(name, ttl)
	if err != nil || done != nil {
		return "", false, err
	}
	return token, true, nil
}

// Extend implements store.Extender.
func (s *Store) Extend(ctx context.Context, name, token string, ttl time.Duration) error {
	if err := checkLease(ctx, name, ttl); err != nil {
		return err
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	l := s.leases[name]
	now := time.Now()
	if l == nil || l.token != token || !now.Before(l.expiry) {
		return fmt.Errorf("memstore: extend %q: %w", name, store.ErrNotHeld)
	}
	l.expiry = now.Add(ttl)
	l.timer.Reset(ttl)
	return nil
}

func checkLease(ctx context.Context, name string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("memstore: lease %q: ttl %v is not positive", name, ttl)
	}
	return nil
}

// take takes name for ttl if it is free and returns the token; if it is
// held it returns the channel closed when the current lease ends.
func (s *Store) take(name string, ttl time.Duration) (token string, held <-chan struct{}, err error) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	l := s.leases[name]
	now := time.Now()
	if l != nil && now.Before(l.expiry) {
		return "", l.done, nil
	}
	if l != nil {
		// Expired, and its timer has not run yet.
		s.endLocked(name, l)
	}
	token, err = newToken()
	if err != nil {
		return "", nil, err
	}
	nl := &lease{token: token, expiry: now.Add(ttl), done: make(chan struct{})}
	nl.timer = time.AfterFunc(ttl, func() { s.expire(name, nl) })
	s.leases[name] = nl
	return token, nil, nil
}

// Release implements store.Locker.
func (s *Store) Release(ctx context.Context, name, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	l := s.leases[name]
	if l == nil || l.token != token || !time.Now().Before(l.expiry) {
		return fmt.Errorf("memstore: release %q: %w", name, store.ErrNotHeld)
	}
	s.endLocked(name, l)
	return nil
}

func (s *Store) expire(name string, l *lease) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.leases[name] != l {
		return
	}
	if left := time.Until(l.expiry); left > 0 {
		// Extended after the timer fired: wait out the new expiry.
		l.timer.Reset(left)
		return
	}
	s.endLocked(name, l)
}

// endLocked removes l, the current lease of name, and wakes its waiters.
// The caller holds s.lmu.
func (s *Store) endLocked(name string, l *lease) {
	l.timer.Stop()
	delete(s.leases, name)
	close(l.done)
}

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.New("memstore: cannot draw a lease token: " + err.Error())
	}
	return hex.EncodeToString(b[:]), nil
}

var _ store.SettleLocker = (*Store)(nil)

// SettleAndTryAcquire implements store.SettleLocker: the lease is taken
// while the attempt is still locked, so no reader sees it PAID before the
// lease is taken.
func (s *Store) SettleAndTryAcquire(ctx context.Context, outTradeNo string, p store.Payment, now time.Time, name string, ttl time.Duration) (settled bool, token string, held bool, err error) {
	if err := checkLease(ctx, name, ttl); err != nil {
		return false, "", false, err
	}
	err = s.update(ctx, "settle", outTradeNo, func(o *store.Order) error {
		pending, err := canSettle(o, p)
		if !pending {
			return err
		}
		var done <-chan struct{}
		if token, done, err = s.take(name, ttl); err != nil {
			return err
		}
		applySettle(o, p, now)
		settled, held = true, done == nil
		return nil
	})
	if err != nil || !held {
		token = ""
	}
	return settled, token, held, err
}

var _ store.ReadSettleLocker = (*Store)(nil)

// ReadSettleAndTryAcquire implements store.ReadSettleLocker: the attempt
// is read, checked against want, settled and its lease taken under one
// hold of the store's lock, so no caller sees it between the read and the
// settlement.
func (s *Store) ReadSettleAndTryAcquire(ctx context.Context, outTradeNo string, want store.Expect, p store.Payment, now time.Time, leasePrefix string, ttl time.Duration) (read *store.Order, settled bool, token string, held bool, err error) {
	if err := checkLease(ctx, leasePrefix, ttl); err != nil {
		return nil, false, "", false, err
	}
	// "get": an unknown attempt is reported as Get reports it.
	err = s.update(ctx, "get", outTradeNo, func(o *store.Order) error {
		read = clone(o)
		if o.Status != store.Pending || !want.Allows(o) {
			return nil
		}
		var done <-chan struct{}
		var err error
		if token, done, err = s.take(leasePrefix+o.BusinessID, ttl); err != nil {
			return err
		}
		applySettle(o, p, now)
		settled, held = true, done == nil
		return nil
	})
	if err != nil {
		return nil, false, "", false, err
	}
	if !held {
		token = ""
	}
	return read, settled, token, held, nil
}

// MarkFulfilledAndRelease implements store.SettleLocker.
func (s *Store) MarkFulfilledAndRelease(ctx context.Context, outTradeNo string, now time.Time, name, token string) error {
	if err := s.MarkFulfilled(ctx, outTradeNo, now); err != nil {
		return err
	}
	return s.Release(context.WithoutCancel(ctx), name, token)
}
