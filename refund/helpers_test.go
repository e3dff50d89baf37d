package refund_test

import (
	"testing"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/refund"
)

// bound is how long a test waits for something that should happen at
// once before it fails.
const bound = 10 * time.Second

// envOptions shape an env; zero values are the defaults.
type envOptions struct {
	// clientTimeout bounds the gateway client's HTTP calls.
	clientTimeout time.Duration
	// autoRefund makes a Refunder (env.auto) the Settler's AutoRefund.
	autoRefund bool
}

// env is a shop with its handlers wired to the simulator
// (handlertest.Host), and the Refunder that is its AutoRefund, if any.
type env struct {
	*handlertest.Host
	auto *refund.Refunder
}

func newEnv(t testing.TB, opt envOptions) *env {
	t.Helper()
	e := &env{}
	cfg := handlertest.HostConfig{ClientTimeout: opt.clientTimeout}
	if opt.autoRefund {
		cfg.AutoRefund = func(h *handlertest.Host) handler.Remedy {
			e.Host = h
			e.auto = e.refunder(t, nil)
			return e.auto
		}
	}
	e.Host = handlertest.NewHost(t, cfg)
	return e
}
