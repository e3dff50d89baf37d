package redisstore

// Jitter and NextWait expose Acquire's backoff to the tests: its waits are
// real timers, so the tests check the arithmetic rather than the clock.
var (
	Jitter   = jitter
	NextWait = nextWait
)
