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

	// Settle moves an attempt from PENDING to PAID with the payment facts,
	// as one atomic compare-and-set: of any number of concurrent calls,
	// exactly one reports settled=true. Repeating it on a PAID attempt with
	// the same TransactionID reports settled=false and changes nothing. A
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
