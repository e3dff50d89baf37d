package store

import (
	"context"
	"slices"
	"time"

	"github.com/cypaykit/kit/model"
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

// Expect is what a verified payment message allows of the attempt it
// settles: its merchant, its exact amount, and the protocol versions
// whose key verified the message (v2 for a merchant's key, v1 for the
// agent key; both when a host gave a merchant the agent key).
type Expect struct {
	// MchID is the merchant the message names.
	MchID string
	// Amount is the message's total_fee in fen.
	Amount int64
	// Versions are the order versions the verifying key may settle; an
	// attempt of any other version is not settled. At most two (v1, v2).
	Versions []model.Version
}

// Allows reports whether o, as stored, is what e allows: the same
// merchant and amount, and a version in Versions.
func (e Expect) Allows(o *Order) bool {
	return o.MchID == e.MchID && o.Amount == e.Amount && slices.Contains(e.Versions, o.Version)
}

// ReadSettleLocker is an optional capability of a SettleLocker: reading
// the attempt and settling it with its lease in one atomic step, so that
// a fresh paid notification costs one durable write and no read before
// it (a round trip fewer on a SQL server). The Settler's notification
// path uses it when the store is its joint SettleLocker; a store without
// it keeps the separate Get and SettleAndTryAcquire, with the same
// guarantees. A wrapper that embeds a store to change Get, Settle or
// SettleAndTryAcquire must wrap this too, or hide it.
type ReadSettleLocker interface {
	SettleLocker
	// ReadSettleAndTryAcquire reads the attempt as Get does and answers
	// with it as it was before this call (o), and, only when that attempt
	// is PENDING and want.Allows it, settles it with p as Settle does and
	// takes the lease named leasePrefix + o.BusinessID for ttl as
	// TryAcquire does, all in one atomic step: settled reports that this
	// call made the attempt PAID, held and token are
	// SettleAndTryAcquire's. A call that did not settle (the attempt is
	// not PENDING, does not match want, or was settled by a concurrent
	// call) changes nothing, takes no lease and returns a nil error: the
	// caller decides from o. An unknown attempt is ErrNotFound. An error
	// means neither happened, with SettleAndTryAcquire's exceptions.
	ReadSettleAndTryAcquire(ctx context.Context, outTradeNo string, want Expect, p Payment, now time.Time, leasePrefix string, ttl time.Duration) (o *Order, settled bool, token string, held bool, err error)
}
