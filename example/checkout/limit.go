package main

import (
	"sync"
	"time"
)

// The demo's bound on order creation: the order API is unauthenticated,
// so without one a script fills the database (20,000 orders took 1.1 s).
// A token bucket shared by all clients allows bursts of orderBurst and
// orderRate a second on average; the page says so.
const (
	orderRate  = 2.0
	orderBurst = 20
)

// limiter is a token bucket. Nil allows everything.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens a second
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: float64(burst), tokens: float64(burst), last: now(), now: now}
}

// allow takes a token if there is one; otherwise it says how long until
// there is.
func (l *limiter) allow() (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if dt := now.Sub(l.last).Seconds(); dt > 0 {
		l.tokens = min(l.burst, l.tokens+dt*l.rate)
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return true, 0
	}
	return false, time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
}
