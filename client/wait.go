package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cypaykit/kit/model"
)

// The gateway's rule for unknown outcomes (docs/protocol.md section 4.1): wait
// 5 s, query, then query every 5 s until a final state or 60–180 s.
const (
	// PollInterval is the wait before the first query and between queries.
	PollInterval = 5 * time.Second
	// DefaultWaitTimeout is WaitForPayment's timeout when it is given zero.
	DefaultWaitTimeout = 120 * time.Second
	// MinWaitTimeout and MaxWaitTimeout bound WaitForPayment's timeout.
	MinWaitTimeout = 60 * time.Second
	MaxWaitTimeout = 180 * time.Second
)

// WaitForPayment applies the gateway's rule for unknown outcomes: wait 5 s,
// query, and query again every 5 s until the order reaches a final state
// (paid, closed, cancelled, refunded, failed) or the timeout passes
// (DefaultWaitTimeout when zero; 60–180 s allowed). It returns the last
// query response; on timeout it is ErrStillPending.
//
// Errors that leave the order's state unknown (ErrUnknownOutcome) and
// ErrNotFound (a just-created order may not be visible yet) do not stop
// the polling; any other error, or the end of ctx, is returned at once
// with the last response, which may be nil.
func (c *Client) WaitForPayment(ctx context.Context, req *model.OrderQueryRequest, timeout time.Duration) (*model.OrderQueryResponse, error) {
	if timeout == 0 {
		timeout = DefaultWaitTimeout
	}
	if timeout < MinWaitTimeout || timeout > MaxWaitTimeout {
		return nil, fmt.Errorf("client: wait timeout %s outside %s–%s", timeout, MinWaitTimeout, MaxWaitTimeout)
	}
	deadline := c.clock().Add(timeout)
	var (
		last    *model.OrderQueryResponse
		lastErr error
	)
	for {
		wait := PollInterval
		if rem := deadline.Sub(c.clock()); rem > 0 && rem < wait {
			wait = rem
		}
		if err := c.sleep(ctx, wait); err != nil {
			return last, fmt.Errorf("client: waiting for payment: %w", err)
		}
		resp, err := c.OrderQuery(ctx, req)
		switch {
		case err == nil:
			last, lastErr = resp, nil
			if resp.Outcome().Final() {
				return resp, nil
			}
		case ctx.Err() != nil:
			return last, fmt.Errorf("client: waiting for payment: %w", ctx.Err())
		case errors.Is(err, ErrUnknownOutcome), errors.Is(err, ErrNotFound):
			lastErr = err
		default:
			return last, err
		}
		if !c.clock().Before(deadline) {
			if lastErr != nil {
				// %v, not %w: the caller should see one class, StillPending.
				return last, fmt.Errorf("%w after %s (last query: %v)", ErrStillPending, timeout, lastErr)
			}
			return last, fmt.Errorf("%w after %s", ErrStillPending, timeout)
		}
	}
}
