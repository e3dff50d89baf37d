package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cypaykit/kit/internal/skipnote"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/redisstore"
	"github.com/cypaykit/kit/storetest"
)

// probeTimeout bounds the check that a test service answers. It is
// generous because a loaded machine can take seconds to accept a
// connection (3 s was missed under load); a service that is not running
// refuses at once.
const probeTimeout = 30 * time.Second

// newClient returns a client of its own (its own connection pool) on the
// test Redis, skipping when there is none, or failing under CI=true.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	addr := os.Getenv("CYPAY_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis at %s unreachable (set CYPAY_TEST_REDIS): %v", addr, err)
		}
		skipnote.Note("CYPAY_TEST_REDIS")
		t.Skipf("redis at %s unreachable (set CYPAY_TEST_REDIS): %v", addr, err)
	}
	return rdb
}

// newPrefix returns a key prefix no other test uses and deletes its keys
// when t ends.
func newPrefix(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	prefix := "cypaytest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = rdb.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("cleanup of %s*: %v", prefix, err)
		}
	})
	return prefix
}

func newLocker(t testing.TB, rdb redis.UniversalClient, prefix string) *redisstore.Locker {
	t.Helper()
	l, err := redisstore.New(rdb, redisstore.Config{KeyPrefix: prefix})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func TestConformance(t *testing.T) {
	storetest.RunConformanceTests(t, func(t *testing.T) storetest.Harness {
		rdb := newClient(t)
		prefix := newPrefix(t, rdb)
		return storetest.Harness{
			Locker: newLocker(t, rdb, prefix),
			// A second process: its own client (connection pool), the
			// same key prefix.
			Peer: func(t *testing.T) store.Locker { return newLocker(t, newClient(t), prefix) },
		}
	})
}

func TestNew(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"})
	t.Cleanup(func() { rdb.Close() })
	tests := []struct {
		name string
		rdb  redis.UniversalClient
		cfg  redisstore.Config
		want error
	}{
		{"defaults", rdb, redisstore.Config{}, nil},
		{"backoff", rdb, redisstore.Config{MinBackoff: time.Millisecond, MaxBackoff: time.Second}, nil},
		{"nil client", nil, redisstore.Config{}, redisstore.ErrNoClient},
		{"max below min", rdb, redisstore.Config{MinBackoff: time.Second, MaxBackoff: time.Millisecond}, redisstore.ErrBackoff},
		{"min only", rdb, redisstore.Config{MinBackoff: time.Millisecond}, redisstore.ErrBackoff},
		// A zero first wait would never grow (0*2 is 0): waiters would
		// retry SET NX in a hot loop.
		{"max only", rdb, redisstore.Config{MaxBackoff: time.Second}, redisstore.ErrBackoff},
		// A fixed backoff: every wait the same.
		{"min equals max", rdb, redisstore.Config{MinBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}, nil},
		{"negative", rdb, redisstore.Config{MinBackoff: -time.Millisecond, MaxBackoff: time.Second}, redisstore.ErrBackoff},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redisstore.New(tc.rdb, tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Errorf("New: got error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKeyPrefix(t *testing.T) {
	rdb := newClient(t)
	prefix := newPrefix(t, rdb)
	tests := []struct {
		name, prefix, want string
	}{
		{"default", "", redisstore.DefaultKeyPrefix + "order-1"},
		{"custom", prefix + "leases:", prefix + "leases:order-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLocker(t, rdb, tc.prefix)
			if got := l.Key("order-1"); got != tc.want {
				t.Fatalf("Key: got %q, want %q", got, tc.want)
			}
			if tc.prefix == "" {
				return // do not touch keys outside the test's prefix
			}
			ctx := context.Background()
			token, err := l.Acquire(ctx, "order-1", time.Minute)
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			got, err := rdb.Get(ctx, tc.want).Result()
			if err != nil || got != token {
				t.Fatalf("GET %s: got %q, %v; want the token %q", tc.want, got, err, token)
			}
			if err := l.Release(ctx, "order-1", token); err != nil {
				t.Fatalf("Release: %v", err)
			}
			if n, err := rdb.Exists(ctx, tc.want).Result(); err != nil || n != 0 {
				t.Fatalf("EXISTS %s after Release: got %d, %v; want 0", tc.want, n, err)
			}
		})
	}
}

func TestAcquireSetsTTLAndToken(t *testing.T) {
	rdb := newClient(t)
	l := newLocker(t, rdb, newPrefix(t, rdb))
	ctx := context.Background()
	token, err := l.Acquire(ctx, "ttl", time.Hour)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if b, err := hex.DecodeString(token); err != nil || len(b) != 16 {
		t.Errorf("token %q: want 16 random bytes in hex", token)
	}
	pttl, err := rdb.PTTL(ctx, l.Key("ttl")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl <= 59*time.Minute || pttl > time.Hour {
		t.Errorf("PTTL: got %v, want about 1h", pttl)
	}
	if _, err := l.Acquire(ctx, "ttl", 0); !errors.Is(err, redisstore.ErrTTL) {
		t.Errorf("Acquire with ttl 0: got %v, want ErrTTL", err)
	}
}

func TestExtend(t *testing.T) {
	rdb := newClient(t)
	l := newLocker(t, rdb, newPrefix(t, rdb))
	ctx := context.Background()
	key := l.Key("job")
	token, err := l.Acquire(ctx, "job", time.Minute)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}

	t.Run("holder extends", func(t *testing.T) {
		if err := l.Extend(ctx, "job", token, time.Hour); err != nil {
			t.Fatalf("Extend: got %v, want nil", err)
		}
		pttl, err := rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if pttl <= time.Minute {
			t.Errorf("PTTL after Extend(1h): got %v, want more than 1m", pttl)
		}
	})
	t.Run("other token", func(t *testing.T) {
		err := l.Extend(ctx, "job", "not-the-token", time.Hour)
		if !errors.Is(err, store.ErrNotHeld) {
			t.Fatalf("Extend with another token: got %v, want ErrNotHeld", err)
		}
	})
	t.Run("bad ttl", func(t *testing.T) {
		if err := l.Extend(ctx, "job", token, 0); !errors.Is(err, redisstore.ErrTTL) {
			t.Fatalf("Extend with ttl 0: got %v, want ErrTTL", err)
		}
	})
	t.Run("after expiry", func(t *testing.T) {
		// Expiry is simulated by deleting the key: no sleeping on a TTL.
		if err := rdb.Del(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
		next, err := l.Acquire(ctx, "job", time.Minute)
		if err != nil {
			t.Fatalf("Acquire after expiry: %v", err)
		}
		if err := l.Extend(ctx, "job", token, time.Hour); !errors.Is(err, store.ErrNotHeld) {
			t.Fatalf("Extend by the expired holder: got %v, want ErrNotHeld", err)
		}
		if err := l.Release(ctx, "job", token); !errors.Is(err, store.ErrNotHeld) {
			t.Fatalf("Release by the expired holder: got %v, want ErrNotHeld", err)
		}
		got, err := rdb.Get(ctx, key).Result()
		if err != nil || got != next {
			t.Fatalf("the new holder's key: got %q, %v; want %q", got, err, next)
		}
		if err := l.Release(ctx, "job", next); err != nil {
			t.Fatalf("Release by the new holder: %v", err)
		}
	})
	t.Run("after release", func(t *testing.T) {
		if err := l.Extend(ctx, "job", token, time.Hour); !errors.Is(err, store.ErrNotHeld) {
			t.Fatalf("Extend of a free lease: got %v, want ErrNotHeld", err)
		}
		if n, err := rdb.Exists(ctx, key).Result(); err != nil || n != 0 {
			t.Fatalf("EXISTS after a refused Extend: got %d, %v; want 0", n, err)
		}
	})
}

func TestAcquireWaitsForRelease(t *testing.T) {
	rdb := newClient(t)
	l := newLocker(t, rdb, newPrefix(t, rdb))
	ctx := context.Background()
	first, err := l.Acquire(ctx, "q", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		token, err := l.Acquire(ctx, "q", time.Minute)
		if err == nil {
			err = l.Release(ctx, "q", token)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second Acquire returned %v while the lease was held", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := l.Release(ctx, "q", first); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("second Acquire after Release: got %v, want nil", err)
	}
}

func TestRedisDown(t *testing.T) {
	// Nothing listens on port 1: every call must fail, never report a lease.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	l := newLocker(t, rdb, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if token, err := l.Acquire(ctx, "x", time.Second); err == nil {
		t.Errorf("Acquire: got token %q, want an error", token)
	}
	if err := l.Release(ctx, "x", "t"); err == nil || errors.Is(err, store.ErrNotHeld) {
		t.Errorf("Release: got %v, want a connection error", err)
	}
	if err := l.Extend(ctx, "x", "t", time.Second); err == nil || errors.Is(err, store.ErrNotHeld) {
		t.Errorf("Extend: got %v, want a connection error", err)
	}
}

// TestTTLOneMillisecond: 1ms is the shortest lease (Redis counts in
// milliseconds), and it is accepted by Acquire, TryAcquire and Extend alike.
// Nothing is asserted after the call: the lease may already have run out.
func TestTTLOneMillisecond(t *testing.T) {
	rdb := newClient(t)
	l := newLocker(t, rdb, newPrefix(t, rdb))
	ctx := context.Background()
	if _, err := l.Acquire(ctx, "a", time.Millisecond); err != nil {
		t.Errorf("Acquire for 1ms: %v", err)
	}
	if _, ok, err := l.TryAcquire(ctx, "b", time.Millisecond); err != nil || !ok {
		t.Errorf("TryAcquire for 1ms of a free lease: got %v, %v; want it taken", ok, err)
	}
	token, err := l.Acquire(ctx, "c", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Extend(ctx, "c", token, time.Millisecond); err != nil {
		t.Errorf("Extend to 1ms: %v", err)
	}
	for _, ttl := range []time.Duration{0, time.Millisecond - 1} {
		if _, _, err := l.TryAcquire(ctx, "d", ttl); !errors.Is(err, redisstore.ErrTTL) {
			t.Errorf("TryAcquire for %v: got %v, want ErrTTL", ttl, err)
		}
	}
}

// TestBackoff: while a lease is held elsewhere, Acquire waits between
// wait/2 and wait before it tries again (never nothing: a hot loop of SET
// NX), and the base wait doubles up to MaxBackoff. The draw is fixed at
// both ends of its range, so nothing here depends on chance or the clock.
func TestBackoff(t *testing.T) {
	lowest := func(time.Duration) time.Duration { return 0 }
	highest := func(k time.Duration) time.Duration { return k - 1 }
	for _, tc := range []struct {
		wait, low, high time.Duration
	}{
		{10 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond},
		{redisstore.DefaultMinBackoff, 2500 * time.Microsecond, redisstore.DefaultMinBackoff},
		{time.Millisecond + 1, 500 * time.Microsecond, time.Millisecond},
	} {
		if got := redisstore.Jitter(tc.wait, lowest); got != tc.low {
			t.Errorf("shortest wait after %v: got %v, want %v", tc.wait, got, tc.low)
		}
		if got := redisstore.Jitter(tc.wait, highest); got != tc.high {
			t.Errorf("longest wait after %v: got %v, want %v", tc.wait, got, tc.high)
		}
	}
	for _, tc := range []struct{ wait, most, want time.Duration }{
		{5 * time.Millisecond, 200 * time.Millisecond, 10 * time.Millisecond},
		{150 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond},
		{200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond},
	} {
		if got := redisstore.NextWait(tc.wait, tc.most); got != tc.want {
			t.Errorf("wait after %v (MaxBackoff %v): got %v, want %v", tc.wait, tc.most, got, tc.want)
		}
	}
}
