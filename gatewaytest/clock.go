package gatewaytest

import (
	"errors"
	"fmt"
	"time"
)

// The simulator's clock is Config.Now (or the system clock) plus the
// offset that Advance adds up. Advancing it moves everything the
// simulator times by its clock — time_end, the 5-minute cancel window —
// and shortens every notification retry that is waiting by the same
// amount, so a tester sees the gateway's 3-hour schedule, or a closed
// cancel window, in seconds and in order.

// Advance moves the simulator's clock forward by d (d > 0). Waiting
// notification retries come d sooner; one that is now due is sent at
// once.
func (s *Server) Advance(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("gatewaytest: Advance(%s): want a positive duration", d)
	}
	s.step.Lock()
	s.offset.Add(int64(d))
	close(s.stepped)
	s.stepped = make(chan struct{})
	s.step.Unlock()
	return nil
}

// Offset reports how far Advance has moved the clock in all.
func (s *Server) Offset() time.Duration { return time.Duration(s.offset.Load()) }

// Now is the simulator's clock.
func (s *Server) Now() time.Time { return s.now() }

func (s *Server) now() time.Time {
	base := time.Now()
	if s.cfg.Now != nil {
		base = s.cfg.Now()
	}
	return base.Add(time.Duration(s.offset.Load()))
}

// steppedChan is closed at the next Advance.
func (s *Server) steppedChan() <-chan struct{} {
	s.step.Lock()
	defer s.step.Unlock()
	return s.stepped
}

// wait sleeps for a span d of the gateway's own time (before TimeScale):
// scale(d) of real time, less what Advance skips. *seen is the clock
// offset the caller's series has already spent: an Advance made at any
// moment since — even before this wait began — counts, and what one wait
// does not need is left for the next, so advancing by three hours lets
// every retry due within them go out, in order. It reports false when the
// server closes first.
func (s *Server) wait(d time.Duration, seen *int64) bool {
	for {
		cur := s.offset.Load()
		skip := time.Duration(cur - *seen)
		if skip >= d {
			*seen += int64(d)
			return s.ctx.Err() == nil
		}
		d -= skip
		*seen = cur
		stepped := s.steppedChan()
		if s.offset.Load() != cur {
			continue // an Advance came between the two reads
		}
		start := time.Now()
		t := time.NewTimer(s.scale(d))
		select {
		case <-t.C:
			return true
		case <-s.ctx.Done():
			t.Stop()
			return false
		case <-stepped:
			t.Stop()
			if d -= s.unscale(time.Since(start)); d <= 0 {
				return true
			}
		}
	}
}

// unscale turns real time into the gateway's time.
func (s *Server) unscale(d time.Duration) time.Duration {
	if s.cfg.TimeScale == 0 {
		return d
	}
	return time.Duration(float64(d) / s.cfg.TimeScale)
}

// ErrNoNotification is Redeliver's answer for an order that has not been
// paid or failed, or whose notification was never sent.
var ErrNoNotification = errors.New("gatewaytest: the order has no notification to send again")

// Redeliver sends the order's notification again, as the gateway does
// when it re-sends one: a new series on the retry schedule, from its first
// (immediate) attempt, that stops at the first "success".
func (s *Server) Redeliver(outTradeNo string) error {
	s.mu.Lock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownOrder, outTradeNo)
	}
	body, url := o.notification, o.NotifyURL
	s.mu.Unlock()
	if body == "" || url == "" {
		return fmt.Errorf("%w: %q", ErrNoNotification, outTradeNo)
	}
	s.startDelivery(outTradeNo, url, body, Faults{})
	return nil
}
