package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors; implementations wrap them so errors.Is works.
var (
	ErrNotFound = errors.New("store: order not found")
	ErrExists   = errors.New("store: order already exists")
	// ErrConflict: the order is not in a state the call may change, for
	// example Settle on a CLOSED order or with another transaction id.
	ErrConflict = errors.New("store: conflicting order state")
	// ErrNotHeld: a lease was released or extended by someone who does
	// not hold it (its own lease expired and another holder took it).
	ErrNotHeld = errors.New("store: lock not held")
)

// OrderStore persists payment attempts. Every method is safe for
// concurrent use, by goroutines and by processes sharing the database, and
// returns ctx.Err() (possibly wrapped) promptly when ctx ends; called with
// a context that has already ended, it changes nothing.
//
// A method that changes an attempt sets UpdatedAt to now; one that changes
// nothing (a repeated Settle or MarkFulfilled, a refused call) leaves it.
// SetCheckout, MarkFulfilled and Finish on an unknown attempt are
// ErrNotFound. Stores may keep times to the microsecond only and return
// them in any location: compare them with time.Time.Equal.
// Orders passed in and handed out are copies; the store never aliases them.
type OrderStore interface {
	// Create records a new attempt. CreatedAt and UpdatedAt are set by the
	// caller. A known OutTradeNo is ErrExists.
	Create(ctx context.Context, o *Order) error

	// Get returns a copy of an attempt, or ErrNotFound.
	Get(ctx context.Context, outTradeNo string) (*Order, error)

	// ListByBusinessID returns a business order's attempts by Attempt,
	// ascending; none is an empty slice, not an error.
	ListByBusinessID(ctx context.Context, businessID string) ([]*Order, error)

	// SetCheckout stores the pre-order's code_url / pay_info on an attempt.
	SetCheckout(ctx context.Context, outTradeNo, codeURL, payInfo string, now time.Time) error

	// Settle moves an attempt from PENDING to PAID with the payment facts
	// (Payment.Money included, in the same atomic step: a PAID attempt
	// never lacks the facts its proof carried), as one atomic
	// compare-and-set: of any number of concurrent calls,
	// exactly one reports settled=true. Repeating it on a PAID (or, after
	// refunds, REFUNDED) attempt with the same TransactionID reports
	// settled=false and changes nothing. A
	// different TransactionID, or a FAILED / CLOSED attempt, is
	// ErrConflict; an unknown one ErrNotFound.
	Settle(ctx context.Context, outTradeNo string, p Payment, now time.Time) (settled bool, err error)

	// MarkFulfilled records that the host's fulfilment hook returned nil
	// for a PAID attempt: Fulfilled, and FulfilledAt = now. Repeating it is
	// a no-op that keeps the first FulfilledAt; a non-PAID attempt is
	// ErrConflict.
	MarkFulfilled(ctx context.Context, outTradeNo string, now time.Time) error

	// Finish moves a PENDING attempt to FAILED or CLOSED with a reason.
	// Any other current status, or another target status, is ErrConflict.
	Finish(ctx context.Context, outTradeNo string, status Status, reason string, now time.Time) error
}

// Closer is an OrderStore that can record a buyer's close of an attempt
// (handler.Reconciler.Close). Stores that do not implement it still work;
// only closing needs it.
type Closer interface {
	OrderStore
	// Abandon marks a PENDING attempt abandoned (Order.AbandonedAt = now,
	// Order.Reason = reason, which must not be empty), as one
	// compare-and-set against Settle: of an Abandon and a Settle
	// racing, either the attempt is PAID and Abandon is ErrConflict, or
	// it is marked and stays marked when Settle then makes it PAID.
	// Repeating it on an abandoned PENDING attempt is a no-op that keeps
	// the first time and reason. Any other status is ErrConflict; an unknown attempt
	// ErrNotFound.
	Abandon(ctx context.Context, outTradeNo, reason string, now time.Time) error

	// Reverse records that a cancel at the gateway reversed the
	// attempt's payment: a PENDING attempt (its payment not yet reported
	// here), or a PAID one that is abandoned, becomes REVERSED with reason, as one compare-and-set.
	// Repeating it on a REVERSED attempt is a no-op; any other state is
	// ErrConflict, an unknown attempt ErrNotFound.
	Reverse(ctx context.Context, outTradeNo, reason string, now time.Time) error
}

// Locker hands out named leases. A lease protects work, not data: it may
// expire while its holder still runs, so callers pair it with OrderStore's
// compare-and-set.
type Locker interface {
	// Acquire blocks until it holds the lease name for ttl, or ctx ends
	// (then it returns ctx.Err(), possibly wrapped, and holds nothing). The
	// token identifies this holding for Release and is never reused by a
	// later holding. An expired lease can be taken by anyone. Names are
	// independent: holding one never delays another.
	Acquire(ctx context.Context, name string, ttl time.Duration) (token string, err error)

	// Release gives the lease up if token still holds it; otherwise it
	// returns ErrNotHeld and leaves the current holder alone.
	Release(ctx context.Context, name, token string) error
}

// TryLocker is a Locker that can also ask for a lease without waiting.
// The Settler uses it for duplicate notifications of an order that is
// already PAID: if someone holds the order's lease, its fulfilment is in
// flight and the duplicate need not queue behind it. Lockers that do not
// implement it still work; duplicates then wait in Acquire.
type TryLocker interface {
	Locker
	// TryAcquire takes the lease name for ttl if nobody holds it (an
	// expired lease counts as free) and returns its token with ok=true.
	// If someone holds it, it returns ok=false at once, holding nothing.
	// An error (including an ended ctx) means it holds nothing either.
	TryAcquire(ctx context.Context, name string, ttl time.Duration) (token string, ok bool, err error)
}

// Extender is a Locker whose leases can be renewed by their holder. The
// Settler renews the lease while the fulfilment hook runs, so a hook that
// outlasts one TTL keeps it; with a Locker that cannot extend, the hook's
// context ends when the lease would.
type Extender interface {
	Locker
	// Extend resets the lease's expiry to ttl from now if token still
	// holds it; otherwise (released, expired, or taken by another holder)
	// it returns ErrNotHeld and changes nothing.
	Extend(ctx context.Context, name, token string, ttl time.Duration) error
}
