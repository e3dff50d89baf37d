package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/cypaykit/kit/model"
)

// RefundState is where one refund stands, as the kit knows it.
type RefundState string

// Refund states. PENDING, PROCESSING and NOTSURE are in flight: the money
// they reserve stays reserved until the gateway gives a final answer.
const (
	// RefundPending: recorded, and the gateway has not (knowingly)
	// accepted it: not yet called, or the call's outcome is unknown. It is
	// queried by OutRefundNo and then re-sent with the same number.
	RefundPending RefundState = "PENDING"
	// RefundProcessing: the gateway accepted it and is paying it back.
	RefundProcessing RefundState = "PROCESSING"
	// RefundNotSure: the gateway answered NOTSURE; it is re-sent with the
	// same OutRefundNo and amount.
	RefundNotSure RefundState = "NOTSURE"
	// RefundSucceeded: the money went back to the buyer. Final.
	RefundSucceeded RefundState = "SUCCESS"
	// RefundFailed: the gateway refused or failed it definitively. Final;
	// its amount is released, and a later refund gets a new number.
	RefundFailed RefundState = "FAIL"
	// RefundChanged: the gateway answered CHANGE: the buyer's card was
	// frozen or closed and the money went back to the merchant's account.
	// Final for the kit (it stays reserved, so it is never refunded twice
	// through the gateway); a person must pay the buyer another way.
	RefundChanged RefundState = "CHANGE"
)

// Final reports whether the gateway's answer on the refund is final.
func (s RefundState) Final() bool {
	return s == RefundSucceeded || s == RefundFailed || s == RefundChanged
}

// Refund errors. Implementations wrap them so errors.Is works.
var (
	// ErrNotRefundable: the attempt is not PAID (unpaid, closed, or
	// already fully REFUNDED).
	ErrNotRefundable = errors.New("store: attempt is not refundable")
	// ErrRefundAmount: the amount is not positive, or together with the
	// attempt's other refunds that are not FAILED it exceeds the paid
	// amount.
	ErrRefundAmount = errors.New("store: refund amount exceeds what is refundable")
	// ErrKeyReused: an idempotency key already names a refund of another
	// attempt or amount.
	ErrKeyReused = errors.New("store: idempotency key reused with another refund")
)

// Refund is one refund of a PAID attempt: a request to the gateway under
// its own OutRefundNo, and the reservation of its amount.
type Refund struct {
	// OutRefundNo is the gateway's merchant refund number, from
	// RefundNo(OutTradeNo, Seq). It is never reused for another amount.
	OutRefundNo string
	// OutTradeNo is the refunded attempt; BusinessID, MchID, Channel,
	// Version and OrderAmount are copied from it at reservation.
	OutTradeNo string
	// BusinessID is the attempt's business order id.
	BusinessID string
	// MchID is the merchant whose key signs the refund.
	MchID string
	// Channel is the attempt's payment channel.
	Channel model.PayType
	// Version decides the endpoint and key, as for the attempt.
	Version model.Version
	// OrderAmount is what the attempt was paid, in fen: the refund cap.
	OrderAmount int64
	// Seq numbers the attempt's refunds from 1, FAILED ones included.
	Seq int
	// Amount is the refund in fen, > 0.
	Amount int64
	// Reason is the host's note, for people.
	Reason string
	// AfterClose marks the refund of a payment the gateway reported for an
	// attempt already FAILED or CLOSED here (AlertPaidAfterClose): only
	// such a refund may be reserved on an attempt that is not PAID.
	AfterClose bool
	// IdempotencyKey, when not empty, names this refund: reserving again
	// with the same key returns it. Keys are unique across the store.
	IdempotencyKey string
	// State is where the refund stands; see RefundState.
	State RefundState
	// RefundID is the gateway's refund number, once known.
	RefundID string
	// RefundedAt is the gateway's refund_time, once known.
	RefundedAt time.Time
	// Tries counts the gateway calls (refund and refundquery) made for it.
	Tries int
	// Note says what the last gateway call answered, for people.
	Note string

	// NextDue is when a poller should look at it next (in flight only).
	NextDue time.Time
	// ClaimToken and ClaimUntil fence the writers: whoever holds the
	// unexpired claim may record outcomes; others are refused. An empty
	// token is no claim.
	ClaimToken string
	// ClaimUntil is when ClaimToken's claim lapses.
	ClaimUntil time.Time

	// CreatedAt is when the refund was reserved.
	CreatedAt time.Time
	// UpdatedAt is when it last changed.
	UpdatedAt time.Time
}

// RefundUpdate is an outcome the claim holder records.
type RefundUpdate struct {
	// State is the refund's new state.
	State RefundState
	// RefundID is the gateway's refund number; kept when empty.
	RefundID string
	// RefundedAt is the gateway's refund_time; kept when zero.
	RefundedAt time.Time
	// Note says what the gateway answered, for people.
	Note string
	// Tried adds this many gateway calls to Tries.
	Tried int
	// NextDue is when to look again; ignored for a final state.
	NextDue time.Time
	// Release gives the claim up (clears ClaimToken and ClaimUntil).
	Release bool
}

// RefundTotals sums an attempt's refunds in fen.
type RefundTotals struct {
	// Reserved is every refund not FAILED, in flight ones included: what
	// can no longer be refunded.
	Reserved int64
	// Refunded is the SUCCESS refunds only.
	Refunded int64
}

// RefundStore persists refunds next to the attempts of an OrderStore
// (the same store value implements both, over the same data). Every method
// is safe for concurrent use, by goroutines and by processes sharing the
// database, and returns ctx.Err() (possibly wrapped) promptly when ctx
// ends, changing nothing. Refunds passed in and handed out are copies.
type RefundStore interface {
	// ReserveRefund records a new PENDING refund of r.OutTradeNo for
	// r.Amount, in one atomic step, and hands it back with its claim:
	// OutRefundNo, Seq, the attempt's fields, State, ClaimToken (fresh)
	// and ClaimUntil = now + lease are set by the store; CreatedAt,
	// UpdatedAt and NextDue are r's. The attempt must be PAID, or FAILED
	// or CLOSED when r.AfterClose (else ErrNotRefundable; unknown:
	// ErrNotFound), and r.Amount > 0 and the
	// attempt's non-FAILED refunds plus r.Amount must not exceed its
	// amount (ErrRefundAmount): of any number of concurrent reservations,
	// only those that fit succeed.
	//
	// If r.IdempotencyKey names an existing refund of the same attempt and
	// amount, that refund is returned with created=false, without its
	// claim token, and nothing changes; another attempt or amount is
	// ErrKeyReused.
	ReserveRefund(ctx context.Context, r *Refund, lease time.Duration, now time.Time) (ref *Refund, created bool, err error)

	// GetRefund returns a copy of a refund, without its claim token, or
	// ErrNotFound.
	GetRefund(ctx context.Context, outRefundNo string) (*Refund, error)

	// ListRefunds returns an attempt's refunds by Seq, without claim
	// tokens; none is an empty slice.
	ListRefunds(ctx context.Context, outTradeNo string) ([]*Refund, error)

	// RefundTotals sums an attempt's refunds; none is zero totals.
	RefundTotals(ctx context.Context, outTradeNo string) (RefundTotals, error)

	// ClaimRefunds claims, atomically per refund, at most limit refunds
	// that are in flight, due (NextDue <= now) and not claimed (no token,
	// or ClaimUntil <= now), earliest NextDue first (ties by OutRefundNo),
	// giving each a fresh ClaimToken and ClaimUntil = now + lease. Of
	// concurrent callers, each refund goes to one. None is an empty slice.
	ClaimRefunds(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Refund, error)

	// UpdateRefund records u on a refund whose claim token is token, as
	// one compare-and-set, and returns the refund as stored, without its
	// claim token. A token that no longer holds the claim (it expired and
	// was taken, or was released) is ErrNotHeld; a final refund is
	// ErrConflict, except that recording the same final state again is a
	// no-op; an unknown one ErrNotFound. When the update makes the
	// attempt's SUCCESS refunds equal its amount, the attempt becomes
	// REFUNDED in the same step.
	UpdateRefund(ctx context.Context, outRefundNo, token string, u RefundUpdate, now time.Time) (*Refund, error)
}

// MaxRefundNo is the gateway's limit on out_refund_no.
const MaxRefundNo = 32

// RefundNo derives refund seq's out_refund_no from the attempt's
// out_trade_no: "<out_trade_no>-<seq>" with seq at least two digits. An
// out_trade_no has no '-' (it is letters and digits), so the number maps
// back to exactly one (attempt, seq) and is unique per merchant as the
// out_trade_no is. When that would exceed 32 characters, the out_trade_no
// is shortened and followed by 8 hex digits of its hash, which keeps
// collisions to chance (a store's uniqueness constraint refuses them).
func RefundNo(outTradeNo string, seq int) string {
	s := strconv.Itoa(seq)
	if len(s) < 2 {
		s = "0" + s
	}
	n := outTradeNo + "-" + s
	if len(n) <= MaxRefundNo {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(outTradeNo))
	sum := strconv.FormatUint(uint64(h.Sum32())|1<<32, 16)[1:]
	keep := max(MaxRefundNo-len(s)-1-len(sum), 0)
	return outTradeNo[:keep] + sum + "-" + s
}

// Refundable reports whether an attempt in status st may take a refund
// reservation: PAID, or FAILED / CLOSED for a payment that landed after
// the attempt was closed.
func Refundable(st Status, afterClose bool) bool {
	return st == Paid || (afterClose && (st == Failed || st == Closed))
}

// Apply records u on r at now as RefundStore.UpdateRefund describes, for
// implementations, which call it on the refund as stored, under their
// lock or transaction, and then write r back. It returns false, changing
// nothing, when r is already final in u.State (a repeat: UpdateRefund
// hands the refund back as it is); ErrConflict (wrapped, naming both
// states) when RefundAllowed refuses the move, a final state included; and
// ErrNotHeld when token does not hold r's claim at now (empty, another's,
// or expired). Otherwise it writes u: State, Note and UpdatedAt = now;
// Tried added to Tries; RefundID and RefundedAt kept when u leaves them
// empty; NextDue ignored for a final state; the claim cleared when u
// releases it or the state is final. It returns true.
func (r *Refund) Apply(u RefundUpdate, token string, now time.Time) (bool, error) {
	if r.State.Final() && r.State == u.State {
		return false, nil
	}
	if !RefundAllowed(r.State, u.State) {
		return false, fmt.Errorf("%s to %s: %w", r.State, u.State, ErrConflict)
	}
	if token == "" || r.ClaimToken != token || !r.ClaimUntil.After(now) {
		return false, ErrNotHeld
	}
	r.State, r.Note, r.UpdatedAt = u.State, u.Note, now
	r.Tries += u.Tried
	if u.RefundID != "" {
		r.RefundID = u.RefundID
	}
	if !u.RefundedAt.IsZero() {
		r.RefundedAt = u.RefundedAt
	}
	if !u.State.Final() {
		r.NextDue = u.NextDue
	}
	if u.Release || u.State.Final() {
		r.ClaimToken, r.ClaimUntil = "", time.Time{}
	}
	return true, nil
}

// RefundAllowed reports whether a refund in state from may be recorded as
// to: in-flight states move anywhere; a final state only to itself.
func RefundAllowed(from, to RefundState) bool {
	if from.Final() {
		return from == to
	}
	switch to {
	case RefundPending, RefundProcessing, RefundNotSure, RefundSucceeded, RefundFailed, RefundChanged:
		return true
	}
	return false
}
