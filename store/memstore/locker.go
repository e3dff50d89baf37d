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
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", fmt.Errorf("memstore: acquire %q: ttl %v is not positive", name, ttl)
	}
	for {
		s.lmu.Lock()
		l := s.leases[name]
		now := time.Now()
		if l != nil && now.Before(l.expiry) {
			done := l.done
			s.lmu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		if l != nil {
			// Expired, and its timer has not run yet.
			s.endLocked(name, l)
		}
		token, err := newToken()
		if err != nil {
			s.lmu.Unlock()
			return "", err
		}
		nl := &lease{token: token, expiry: now.Add(ttl), done: make(chan struct{})}
		nl.timer = time.AfterFunc(ttl, func() { s.expire(name, nl) })
		s.leases[name] = nl
		s.lmu.Unlock()
		return token, nil
	}
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
	if s.leases[name] == l {
		s.endLocked(name, l)
	}
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
