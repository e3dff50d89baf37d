package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// CloseOutcome is what became of an attempt a buyer closed.
type CloseOutcome string

// Close outcomes.
const (
	// CloseClosed: the gateway cancelled the attempt unpaid (or it was
	// already FAILED or CLOSED here). Nothing can be paid with it.
	CloseClosed CloseOutcome = "CLOSED"
	// CloseReversed: the buyer had paid it, and the gateway's cancel gave
	// the money back. The attempt is REVERSED and is never fulfilled.
	CloseReversed CloseOutcome = "REVERSED"
	// CloseAbandoned: past the gateway's 5-minute cancel window, or the
	// cancel's outcome was not proven by a signed reply. The attempt stays
	// PENDING and watched until its expiry, its business order is free
	// for a new attempt, and a payment that still lands on it is a second
	// payment: alerted, never fulfilled, refunded when AutoRefund is on.
	CloseAbandoned CloseOutcome = "ABANDONED"
)

// CloseResult is what Reconciler.Close did, as the close route answers it.
type CloseResult struct {
	// OutTradeNo is the attempt closed.
	OutTradeNo string `json:"out_trade_no"`
	// OrderID is its business order, free for a new attempt unless the
	// attempt was paid.
	OrderID string `json:"order_id"`
	// Outcome is CLOSED, REVERSED or ABANDONED.
	Outcome CloseOutcome `json:"outcome"`
	// Status is the attempt's store.Status afterwards: PENDING for an
	// abandoned attempt nobody has paid.
	Status string `json:"status"`
}

var (
	// ErrAttemptPaid: Close of an attempt the store already holds PAID
	// (or REFUNDED): the payment stands and is, or will be, fulfilled; a
	// refund, not a close, gives the money back (409).
	ErrAttemptPaid = errors.New("handler: the attempt is already paid")
	// ErrCloseUnsupported: the Reconciler's store is not a store.Closer.
	ErrCloseUnsupported = errors.New("handler: the store cannot record a close (not a store.Closer)")
)

// Reasons recorded with a buyer's close.
const (
	reasonAbandoned = "abandoned by the buyer"
	reasonClosed    = "closed by the buyer: cancelled at the gateway unpaid"
	reasonReversed  = "closed by the buyer: the cancel reversed the payment"
)

// Close closes one payment attempt for its buyer, so that the business
// order can be paid again with a new attempt (a new out_trade_no) and the
// buyer never pays twice:
//
//   - An attempt the store holds PAID is refused with ErrAttemptPaid: its
//     payment stands.
//   - Otherwise it is first marked abandoned (store.Closer.Abandon, a
//     compare-and-set against Settle), so from that moment no payment of
//     it can run the fulfilment hook: one that lands is a second payment.
//   - Inside the gateway's cancel window (5 minutes after creation) the
//     gateway is asked to cancel it. Only a signed cancel reply counts
//     (guarantee G14); a signed order query then says whether the cancel
//     closed it unpaid (10004: CLOSED) or reversed a payment (10005 with a
//     transaction id: REVERSED). An unsigned or failed reply leaves it
//     abandoned and watched: the Reconciler's queries record what the
//     gateway did, and a repeated Close tries the cancel again.
//   - Past the window it stays abandoned: watched until its expiry, as
//     every PENDING attempt is.
//
// The work runs under the business order's fulfilment lease, so a payment
// that settles while the cancel is in flight waits for the outcome rather
// than being handled as a second payment (and refunded) a moment before
// the gateway reverses it. Closing a CLOSED, FAILED, REVERSED or abandoned
// attempt again reports what it is. An unknown attempt is
// ErrOrderNotFound.
func (r *Reconciler) Close(ctx context.Context, outTradeNo string) (CloseResult, error) {
	closer, ok := r.store.(store.Closer)
	if !ok {
		return CloseResult{}, ErrCloseUnsupported
	}
	o, err := r.store.Get(ctx, outTradeNo)
	if errors.Is(err, store.ErrNotFound) {
		return CloseResult{}, fmt.Errorf("%w: %s", ErrOrderNotFound, outTradeNo)
	}
	if err != nil {
		return CloseResult{}, fmt.Errorf("handler: close %s: %w", outTradeNo, err)
	}
	if o.Status != store.Pending || !o.AbandonedAt.IsZero() && !r.inCancelWindow(o) {
		return verdictOf(o)
	}
	ctx, cancel := context.WithTimeout(ctx, r.settler.ttl)
	defer cancel()
	name := lockName(o.BusinessID)
	tok, err := r.settler.locker.Acquire(ctx, name, r.settler.ttl)
	if err != nil {
		return CloseResult{}, fmt.Errorf("handler: close %s: lock: %w", outTradeNo, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := r.settler.locker.Release(rctx, name, tok); err != nil {
			r.log.LogAttrs(ctx, slog.LevelWarn, "handler: lease lost before release",
				slog.String("out_trade_no", outTradeNo), slog.String("err", err.Error()))
		}
	}()
	err = closer.Abandon(ctx, outTradeNo, reasonAbandoned, r.now())
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return CloseResult{}, fmt.Errorf("handler: close %s: %w", outTradeNo, err)
	}
	if o, err = r.store.Get(ctx, outTradeNo); err != nil {
		return CloseResult{}, fmt.Errorf("handler: close %s: %w", outTradeNo, err)
	}
	if o.Status != store.Pending || !r.inCancelWindow(o) {
		// Paid first (refused), or past the window: nothing to cancel.
		return verdictOf(o)
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "handler: attempt abandoned; cancelling it at the gateway",
		slog.String("out_trade_no", outTradeNo))
	r.cancelAbandoned(ctx, closer, o)
	if o, err = r.store.Get(ctx, outTradeNo); err != nil {
		return CloseResult{}, fmt.Errorf("handler: close %s: %w", outTradeNo, err)
	}
	return verdictOf(o)
}

// inCancelWindow says the gateway still accepts a cancel of o. The attempt
// was recorded before the gateway created it, so its age here is never
// less than the gateway's.
func (r *Reconciler) inCancelWindow(o *store.Order) bool {
	return r.now().Sub(o.CreatedAt) < cancelWindow
}

// cancelAbandoned asks the gateway to cancel abandoned attempt o and
// records what a signed reply proves. Anything unproven leaves o PENDING
// and abandoned, which is safe: its payment, if any, is a second payment.
func (r *Reconciler) cancelAbandoned(ctx context.Context, closer store.Closer, o *store.Order) {
	cl := r.clients[o.Version]
	if cl == nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "handler: no client for the attempt's protocol version; left abandoned",
			slog.String("out_trade_no", o.OutTradeNo), slog.String("version", string(o.Version)))
		return
	}
	unknown := func(step string, err error) {
		r.log.LogAttrs(ctx, slog.LevelWarn, "handler: close: outcome unknown; the attempt stays abandoned and watched",
			slog.String("out_trade_no", o.OutTradeNo), slog.String("step", step), slog.String("err", err.Error()))
	}
	if err := r.wait(ctx, o.MchID); err != nil {
		unknown("rate limit", err)
		return
	}
	_, err := cl.Cancel(ctx, &model.CancelRequest{PayType: o.Channel, MchID: o.MchID, OutTradeNo: o.OutTradeNo})
	r.noteReply(ctx, o, err)
	if err != nil {
		// A refusal (20011 past the gateway's window) comes unsigned, like
		// every error reply, so it proves nothing either way.
		unknown("cancel", err)
		return
	}
	// Cancelled: did it close the attempt or reverse a payment? The cancel
	// reply does not say; a signed query does.
	if err := r.wait(ctx, o.MchID); err != nil {
		unknown("rate limit", err)
		return
	}
	resp, err := cl.OrderQuery(ctx, &model.OrderQueryRequest{PayType: o.Channel, MchID: o.MchID, OutTradeNo: o.OutTradeNo})
	r.noteReply(ctx, o, err)
	var reversed bool
	switch {
	case err != nil:
		// The signed cancel proves the gateway will take no payment. If a
		// payment settled here meanwhile, the cancel reversed it.
		cur, gerr := r.store.Get(ctx, o.OutTradeNo)
		if gerr != nil || cur.Status != store.Paid {
			unknown("query", err)
			return
		}
		reversed = true
	case resp.Code == model.CodeCancelled && resp.TransactionID != "":
		reversed = true
	case resp.Outcome() != model.OutcomeClosed:
		unknown("query", fmt.Errorf("cancelled, yet the gateway reports code %s", resp.Code))
		return
	}
	now := r.now()
	if reversed {
		if err := closer.Reverse(ctx, o.OutTradeNo, reasonReversed, now); err != nil {
			r.log.LogAttrs(ctx, slog.LevelError, "handler: close: reversal not recorded",
				slog.String("out_trade_no", o.OutTradeNo), slog.String("err", err.Error()))
			return
		}
		r.log.LogAttrs(ctx, slog.LevelInfo, "handler: attempt closed; its payment was reversed",
			slog.String("out_trade_no", o.OutTradeNo))
		r.settler.emit(Event{Outcome: Closed, OutTradeNo: o.OutTradeNo, Source: SourceClose})
		return
	}
	err = r.store.Finish(ctx, o.OutTradeNo, store.Closed, reasonClosed, now)
	if err != nil {
		r.log.LogAttrs(ctx, slog.LevelError, "handler: close: not recorded",
			slog.String("out_trade_no", o.OutTradeNo), slog.String("err", err.Error()))
		return
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "handler: attempt closed", slog.String("out_trade_no", o.OutTradeNo))
	r.settler.emit(Event{Outcome: Closed, OutTradeNo: o.OutTradeNo, Source: SourceClose})
}

// verdictOf reports attempt o's state as the outcome of a close.
func verdictOf(o *store.Order) (CloseResult, error) {
	res := CloseResult{OutTradeNo: o.OutTradeNo, OrderID: o.BusinessID, Status: string(o.Status)}
	switch {
	case o.Status == store.Reversed:
		res.Outcome = CloseReversed
	case o.Status == store.Closed || o.Status == store.Failed:
		res.Outcome = CloseClosed
	case !o.AbandonedAt.IsZero():
		// PENDING, or paid after it was abandoned (a second payment):
		// given up either way.
		res.Outcome = CloseAbandoned
	case o.Status == store.Paid || o.Status == store.Refunded:
		return res, fmt.Errorf("%w: %s", ErrAttemptPaid, o.OutTradeNo)
	case o.Status == store.Pending:
		// Only when the store is not a Closer's: cannot happen here.
		return res, fmt.Errorf("handler: close %s: still PENDING", o.OutTradeNo)
	default:
		return res, fmt.Errorf("handler: close %s: unknown status %s", o.OutTradeNo, o.Status)
	}
	return res, nil
}
