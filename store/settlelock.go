package store

import (
	"context"
	"time"
)

// SettleLocker is an OrderStore that keeps its own leases and can join a
// settlement with taking the fulfilment lease, and the fulfilment's record
// with releasing it, so that a fresh settlement costs two durable writes
// instead of four (a round trip and a commit each on a SQL server). The
// Settler uses it when the store is also its Locker; the guarantees are
// those of the separate calls, which a store without it still gets.
type SettleLocker interface {
	OrderStore
	TryLocker
	// SettleAndTryAcquire is Settle and, only when this call made the
	// attempt PAID (settled), TryAcquire(name, ttl) in the same atomic
	// step: held reports that the lease was taken, token is its token. A
	// call that did not settle takes no lease; an error means neither
	// happened, with Settle's narrow exception of a commit whose answer
	// was lost (the lease then runs out on its own). A store that runs
	// this as one statement without a transaction (sqlstore on
	// PostgreSQL) widens that exception to a statement whose answer was
	// lost, which includes a ctx that ended while it waited for a row
	// lock: the settlement may then land after the error, which is safe
	// because the payment it records was verified.
	SettleAndTryAcquire(ctx context.Context, outTradeNo string, p Payment, now time.Time, name string, ttl time.Duration) (settled bool, token string, held bool, err error)
	// MarkFulfilledAndRelease is MarkFulfilled and, when that succeeds,
	// Release(name, token) in the same step. MarkFulfilled's errors come
	// back as they would from it, and then the lease is kept. When the
	// fulfilment is recorded but token no longer holds the lease, the
	// error wraps ErrNotHeld and nobody else's lease is touched.
	MarkFulfilledAndRelease(ctx context.Context, outTradeNo string, now time.Time, name, token string) error
}
