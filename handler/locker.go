package handler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/cypaykit/kit/store"
)

// localLocker is the process-local store.Locker used when none is
// configured: leases are only visible inside this process.
type localLocker struct {
	mu     sync.Mutex
	leases map[string]*lease
}

type lease struct {
	token    string
	expires  time.Time
	released chan struct{} // closed when the lease is released
}

var _ store.Locker = (*localLocker)(nil)

func newLocalLocker() *localLocker { return &localLocker{leases: map[string]*lease{}} }

func (l *localLocker) Acquire(ctx context.Context, name string, ttl time.Duration) (string, error) {
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		l.mu.Lock()
		now := time.Now()
		cur, held := l.leases[name]
		if !held || !now.Before(cur.expires) {
			if held {
				close(cur.released)
			}
			tok := newToken()
			l.leases[name] = &lease{token: tok, expires: now.Add(ttl), released: make(chan struct{})}
			l.mu.Unlock()
			return tok, nil
		}
		wait, released := cur.expires.Sub(now), cur.released
		l.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-released:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

func (l *localLocker) Release(_ context.Context, name, token string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.leases[name]
	if !ok || cur.token != token {
		return store.ErrNotHeld
	}
	delete(l.leases, name)
	close(cur.released)
	return nil
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
