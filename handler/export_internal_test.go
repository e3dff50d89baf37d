package handler

import "time"

// SetRenewAfter replaces the wait a Settler starts before each lease
// renewal (a timer of LockTTL/3, or of LockTTL/12 after an Extend that
// failed for a passing reason) with after, so that a test of the renewal
// decides when it comes and sees the wait asked for. Call it before s
// settles anything.
func SetRenewAfter(s *Settler, after func(d time.Duration) (<-chan time.Time, func() bool)) {
	s.renewAfter = after
}
