package store

import (
	"context"
	"errors"
	"time"
)

// ErrLease is returned by Scheduler.Claim for a lease under a millisecond:
// a claim that expires before its holder can act on it protects nothing.
var ErrLease = errors.New("store: claim lease must be at least 1ms")

// Kind names a queue of due work that a Scheduler hands out. Each kind is
// a predicate over the store's records plus the record's due time; a
// record is in at most one kind at a time, so one due time per record is
// enough.
type Kind string

// Kinds of work on payment attempts. A refund store adds its own kinds
// (for example "refund-query") and implements Scheduler for them the same
// way, on its own records.
const (
	// KindQuery is a PENDING attempt whose outcome must be asked of the
	// gateway (guarantee G7).
	KindQuery Kind = "query"
	// KindFulfil is a PAID attempt whose fulfilment hook has not yet
	// returned nil (guarantee G3).
	KindFulfil Kind = "fulfil"
)

// ClaimRequest asks a Scheduler for due work.
type ClaimRequest struct {
	// Kind is the queue to take from. A kind the store does not know is an
	// error.
	Kind Kind
	// Now is the caller's clock: an item is due when its due time is at or
	// before Now. Every instance must keep its clock in sync (NTP): a lease
	// is judged by the clocks of the instances, like the due times.
	Now time.Time
	// CreatedAfter, when not zero, takes only items created strictly after
	// it. The reconciler uses it to serve attempts in their fast window
	// before the tail, whatever the backlog.
	CreatedAfter time.Time
	// Lease is how long the claim lasts: until Now+Lease no other Claim
	// returns the item. At least a millisecond, else ErrLease.
	Lease time.Duration
	// Limit bounds the items returned; below 1 returns none.
	Limit int
}

// Claim is one due item handed to one caller.
type Claim struct {
	// Kind is the queue the item was claimed from.
	Kind Kind
	// Key identifies the item: the attempt's OutTradeNo for the order
	// kinds.
	Key string
	// Due is when the item was due, before the claim.
	Due time.Time
	// Token fences the caller's writes: Reschedule succeeds only while no
	// later Claim has taken the item. Tokens are never reused.
	Token string
	// Order is a copy of the attempt, for the order kinds; nil otherwise.
	Order *Order
}

// Scheduler is the schedule of due work shared by every instance of the
// host, so that each due check runs once across all of them (guarantees
// G11, G12). Every method is safe for concurrent use, by goroutines and by
// processes sharing the store, and returns ctx.Err() (possibly wrapped)
// promptly when ctx ends; called with a context that has already ended,
// it changes nothing. Orders handed out are copies.
//
// Each record carries a due time (Order.NextDue for attempts). Create sets
// it from the record (a zero NextDue means CreatedAt); Claim moves it to
// the end of the claim's lease, so an item whose holder dies becomes due
// again when the lease expires, with no sweeper; Reschedule sets it to the
// time the caller computed. Nothing else changes it: Settle, Finish and
// MarkFulfilled leave it, and the record moves between kinds through its
// status.
type Scheduler interface {
	// Claim atomically takes at most r.Limit items of r.Kind that are due
	// at r.Now, most overdue first (ties by Key), and leases them to the
	// caller until r.Now+r.Lease. Of any number of concurrent callers,
	// at most one gets a given item while its lease runs. None due is an
	// empty slice, not an error.
	Claim(ctx context.Context, r ClaimRequest) ([]Claim, error)

	// Reschedule ends a claim: if c.Token still holds c.Key (no later
	// Claim took it, whether or not the lease has run out), it sets the
	// item's due time to next and returns nil; otherwise it returns
	// ErrNotHeld and changes nothing, so an instance that stalled past its
	// lease cannot overwrite the newer schedule of the instance that took
	// over. An unknown key is ErrNotFound. The item's status does not
	// matter: a query that settled an attempt reschedules it as
	// fulfilment work.
	Reschedule(ctx context.Context, c Claim, next time.Time) error
}
