package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var errLostReply = errors.New("lossy: reply lost after the command ran")

// loseSetNX runs every command but, while lose is set, reports
// errLostReply for SET: a SET NX that took the lease and whose caller
// never heard of it.
type loseSetNX struct{ lose *atomic.Bool }

func (h loseSetNX) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h loseSetNX) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil && h.lose.Load() && cmd.Name() == "set" {
			cmd.SetErr(errLostReply)
			return errLostReply
		}
		return err
	}
}

func (h loseSetNX) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestFailedTakeLeavesNoLease: a SET NX whose reply is lost may have taken
// the lease; the Locker must not leave it held by a token nobody has until
// its TTL runs out.
func TestFailedTakeLeavesNoLease(t *testing.T) {
	rdb := newClient(t)
	prefix := newPrefix(t, rdb)
	lose := new(atomic.Bool)
	rdb.AddHook(loseSetNX{lose: lose})
	l := newLocker(t, rdb, prefix)
	ctx := context.Background()

	lose.Store(true)
	if tok, ok, err := l.TryAcquire(ctx, "job", time.Minute); !errors.Is(err, errLostReply) || ok {
		t.Fatalf("TryAcquire with a lost reply: got (%q, %v, %v), want %v", tok, ok, err, errLostReply)
	}
	if _, err := l.Acquire(ctx, "job2", time.Minute); !errors.Is(err, errLostReply) {
		t.Fatalf("Acquire with a lost reply: got %v, want %v", err, errLostReply)
	}
	lose.Store(false)
	for _, name := range []string{"job", "job2"} {
		tok, ok, err := l.TryAcquire(ctx, name, time.Minute)
		if err != nil || !ok {
			t.Errorf("TryAcquire(%s) after a take whose reply was lost: got (%q, %v, %v), want the lease (nobody holds it)", name, tok, ok, err)
		}
	}
}

var errBroken = errors.New("lossy: connection broke")

// cancelThenFail ends the caller's context while a command is in flight and
// reports a connection error rather than the context's.
type cancelThenFail struct{ cancel context.CancelFunc }

func (h cancelThenFail) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h cancelThenFail) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.cancel()
		cmd.SetErr(errBroken)
		return errBroken
	}
}

func (h cancelThenFail) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestErrorsCarryTheContext: when the context ends during a command and
// the client reports something else, the error still matches the
// context's (a caller tells "gave up" from "Redis failed" with errors.Is),
// and the client's error too.
func TestErrorsCarryTheContext(t *testing.T) {
	prefix := newPrefix(t, newClient(t)) // its cleanup on a client of its own
	rdb := newClient(t)
	l := newLocker(t, rdb, prefix)
	token, err := l.Acquire(context.Background(), "job", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rdb.AddHook(cancelThenFail{cancel: cancel})
	err = l.Release(ctx, "job", token)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errBroken) {
		t.Errorf("Release: got %v, want both context.Canceled and %v", err, errBroken)
	}
}

// lateSetNX makes the next SET (a lease take) land late: it ends the
// caller's context and reports its error without sending the command,
// then sends it once the caller's clean-up has run its first
// compare-and-delete, as a SET NX written just before its caller gave up
// can reach Redis after the clean-up that went out on another connection.
// After that it signals deletedAgain when a compare-and-delete deletes
// the late lease.
type lateSetNX struct {
	cancel       context.CancelFunc
	armed        atomic.Bool
	mu           sync.Mutex
	held         []any // the SET's arguments, until sent
	landed       bool
	deletedAgain chan struct{}
}

func (h *lateSetNX) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *lateSetNX) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "set" && h.armed.CompareAndSwap(true, false) {
			h.mu.Lock()
			h.held = cmd.Args()
			h.mu.Unlock()
			h.cancel()
			cmd.SetErr(ctx.Err())
			return ctx.Err()
		}
		err := next(ctx, cmd)
		if name := cmd.Name(); err != nil || name != "evalsha" && name != "eval" {
			return err
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		switch {
		case h.held != nil:
			late := redis.NewStatusCmd(context.Background(), h.held...)
			h.held, h.landed = nil, true
			if err := next(context.Background(), late); err != nil {
				return err
			}
		case h.landed:
			if n, _ := cmd.(*redis.Cmd).Int64(); n == 1 {
				h.landed = false
				close(h.deletedAgain)
			}
		}
		return err
	}
}

func (h *lateSetNX) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestLateTakeIsDisowned: a SET NX whose caller gave up can be applied by
// Redis after the caller's clean-up deleted its token's key, leaving a
// lease nobody holds for its whole TTL (a minute here). The clean-up
// deletes again in the background, so the lease is free long before.
// Plant killed: a disown that deletes once (deletedAgain never came).
func TestLateTakeIsDisowned(t *testing.T) {
	rdb := newClient(t)
	prefix := newPrefix(t, rdb)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &lateSetNX{cancel: cancel, deletedAgain: make(chan struct{})}
	rdb.AddHook(h)
	l := newLocker(t, rdb, prefix)

	h.armed.Store(true)
	if tok, ok, err := l.TryAcquire(ctx, "job", time.Minute); !errors.Is(err, context.Canceled) || ok {
		t.Fatalf("TryAcquire whose context ended: got (%q, %v, %v), want context.Canceled", tok, ok, err)
	}
	bg := context.Background()
	if holder, err := rdb.Get(bg, l.Key("job")).Result(); err != nil || holder == "" {
		t.Fatalf("after the late SET NX: key holds %q, %v; want the failed take's token (the simulation did not bite)", holder, err)
	}
	select {
	case <-h.deletedAgain:
	case <-time.After(30 * time.Second): // a bound far below the TTL, never an ordering
		t.Fatal("the late take's lease was still held 30 s later: nothing deleted it again")
	}
	tok, ok, err := l.TryAcquire(bg, "job", time.Minute)
	if err != nil || !ok {
		t.Fatalf("TryAcquire after the late take was disowned: got (%q, %v, %v), want the lease", tok, ok, err)
	}
	if err := l.Release(bg, "job", tok); err != nil {
		t.Fatal(err)
	}
}
