package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cypaykit/kit/store"
)

// DefaultKeyPrefix starts every lease key when Config.KeyPrefix is empty.
const DefaultKeyPrefix = "cypay:lock:"

// Default backoff between SET NX attempts while a lease is held elsewhere.
const (
	DefaultMinBackoff = 5 * time.Millisecond
	DefaultMaxBackoff = 200 * time.Millisecond
)

// Errors returned by New and by the Locker's methods, besides
// store.ErrNotHeld and the context's errors.
var (
	ErrNoClient = errors.New("redisstore: nil redis client")
	ErrBackoff  = errors.New("redisstore: invalid backoff")
	ErrTTL      = errors.New("redisstore: ttl must be at least 1ms")
)

// Config configures a Locker.
type Config struct {
	// KeyPrefix starts every lease key (the key is KeyPrefix + name).
	// Empty means DefaultKeyPrefix.
	KeyPrefix string
	// MinBackoff is the first wait after a failed SET NX; each further
	// wait doubles, up to MaxBackoff, with random jitter so that waiters
	// do not retry in step. Zero means DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
}

// Locker is a store.Locker on Redis, safe for concurrent use. Leases are
// independent of the client: two processes with their own clients on one
// Redis exclude each other.
type Locker struct {
	rdb      redis.UniversalClient
	prefix   string
	min, max time.Duration
}

var (
	_ store.TryLocker = (*Locker)(nil)
	_ store.Extender  = (*Locker)(nil)
)

// New returns a Locker over rdb (a *redis.Client, *redis.ClusterClient or
// *redis.Ring). It does not contact Redis.
func New(rdb redis.UniversalClient, cfg Config) (*Locker, error) {
	if rdb == nil {
		return nil, ErrNoClient
	}
	l := &Locker{rdb: rdb, prefix: cfg.KeyPrefix, min: cfg.MinBackoff, max: cfg.MaxBackoff}
	if l.prefix == "" {
		l.prefix = DefaultKeyPrefix
	}
	if l.min == 0 && l.max == 0 {
		l.min, l.max = DefaultMinBackoff, DefaultMaxBackoff
	}
	if l.min <= 0 || l.max < l.min {
		return nil, fmt.Errorf("%w: min %v, max %v", ErrBackoff, cfg.MinBackoff, cfg.MaxBackoff)
	}
	return l, nil
}

// Key returns the Redis key that holds the lease name.
func (l *Locker) Key(name string) string { return l.prefix + name }

// release deletes the key only if it still holds this token, so a holder
// whose lease expired cannot delete the next holder's.
var release = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// extend resets the key's TTL only if it still holds this token.
var extend = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// Acquire blocks until it holds the lease name for ttl (rounded down to
// the millisecond, at least 1ms) or ctx ends. While the lease is held
// elsewhere it retries SET NX with exponential backoff and jitter. A Redis
// error other than "held" ends it at once.
func (l *Locker) Acquire(ctx context.Context, name string, ttl time.Duration) (string, error) {
	if ttl < time.Millisecond {
		return "", fmt.Errorf("%w, got %v", ErrTTL, ttl)
	}
	token, err := newToken()
	if err != nil {
		return "", err
	}
	key := l.Key(name)
	wait := l.min
	var timer *time.Timer
	for {
		ok, err := l.rdb.SetNX(ctx, key, token, ttl).Result()
		if err != nil {
			l.disown(ctx, key, token, ttl)
			return "", l.fail(ctx, "acquire "+name, err)
		}
		if ok {
			return token, nil
		}
		d := jitter(wait, mrand.N[time.Duration])
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("redisstore: acquire %s: %w", name, ctx.Err())
		case <-timer.C:
		}
		wait = nextWait(wait, l.max)
	}
}

// jitter is the wait after a failed SET NX whose base wait is wait: in
// [wait/2, wait], drawn with n (n(k) is in [0, k)), so that waiters that
// started together spread out.
func jitter(wait time.Duration, n func(time.Duration) time.Duration) time.Duration {
	return wait/2 + n(wait/2+1)
}

// nextWait is the base wait after wait: doubled, up to most.
func nextWait(wait, most time.Duration) time.Duration { return min(wait*2, most) }

// TryAcquire takes the lease name for ttl with one SET NX if nobody holds
// it, and reports ok=false at once if someone does.
func (l *Locker) TryAcquire(ctx context.Context, name string, ttl time.Duration) (string, bool, error) {
	if ttl < time.Millisecond {
		return "", false, fmt.Errorf("%w, got %v", ErrTTL, ttl)
	}
	if err := ctx.Err(); err != nil {
		return "", false, fmt.Errorf("redisstore: try acquire %s: %w", name, err)
	}
	token, err := newToken()
	if err != nil {
		return "", false, err
	}
	ok, err := l.rdb.SetNX(ctx, l.Key(name), token, ttl).Result()
	if err != nil {
		l.disown(ctx, l.Key(name), token, ttl)
		return "", false, l.fail(ctx, "try acquire "+name, err)
	}
	if !ok {
		return "", false, nil
	}
	return token, true, nil
}

// disownAgain are the pauses between the deletes disown makes after its
// first (the same as sqlstore's): a SET NX whose caller gave up may still
// be on its way to Redis, or queued there behind a slow command, and be
// applied after the first delete.
var disownAgain = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, time.Second, 3 * time.Second, 10 * time.Second}

// disown deletes key if token holds it, ignoring errors: it runs after a
// failed SET NX, on a context of its own, for at most a few seconds. The
// SET NX may have been applied all the same (the context ended after the
// command was sent, and go-redis dropped the connection it was on), and
// it may be applied after this delete, which runs on another connection:
// that would be a lease nobody holds a token for, blocking the name for
// its whole TTL. So the delete is made again in the background after each
// pause of disownAgain, while the TTL has not run out: the token is this
// take's own, so a late delete can only remove this take's lease.
func (l *Locker) disown(ctx context.Context, key, token string, ttl time.Duration) {
	l.deleteToken(ctx, key, token, ttl)
	go func() {
		elapsed := time.Duration(0)
		for _, d := range disownAgain {
			if elapsed += d; elapsed >= ttl {
				return
			}
			time.Sleep(d)
			l.deleteToken(ctx, key, token, ttl)
		}
	}()
}

// deleteToken deletes key if token holds it, ignoring errors.
func (l *Locker) deleteToken(ctx context.Context, key, token string, ttl time.Duration) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(ttl, 5*time.Second))
	defer cancel()
	_ = release.Run(dctx, l.rdb, []string{key}, token).Err()
}

// Release gives the lease up if token still holds it, else returns
// store.ErrNotHeld and leaves the current holder alone.
func (l *Locker) Release(ctx context.Context, name, token string) error {
	n, err := release.Run(ctx, l.rdb, []string{l.Key(name)}, token).Int64()
	if err != nil {
		return l.fail(ctx, "release "+name, err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: release %s: %w", name, store.ErrNotHeld)
	}
	return nil
}

// Extend resets the lease's TTL to ttl from now if token still holds it,
// else returns store.ErrNotHeld. A holder whose work may outlast its
// lease calls it well before the lease ends.
func (l *Locker) Extend(ctx context.Context, name, token string, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("%w, got %v", ErrTTL, ttl)
	}
	n, err := extend.Run(ctx, l.rdb, []string{l.Key(name)}, token, ttl.Milliseconds()).Int64()
	if err != nil {
		return l.fail(ctx, "extend "+name, err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: extend %s: %w", name, store.ErrNotHeld)
	}
	return nil
}

// fail wraps a Redis error; when ctx has ended it wraps ctx.Err() too, so
// errors.Is(err, context.Canceled) holds whatever go-redis reported.
func (l *Locker) fail(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, ctxErr, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// newToken returns 16 random bytes in hex: unguessable, so no other
// holder can release or extend this lease by accident or design.
func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("redisstore: token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
