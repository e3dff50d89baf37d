package redisstore_test

import (
	"context"
	"errors"
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
