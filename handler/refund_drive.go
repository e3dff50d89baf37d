package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// maxRefundCalls bounds the gateway calls one drive makes; what is left
// unknown is picked up by Poll on the schedule.
const maxRefundCalls = 4

// AlertRefundChange: the gateway answered CHANGE for a refund: the buyer's
// card was frozen or closed and the money went back to the merchant's
// account. Pay the buyer another way; the kit will not refund it again.
const AlertRefundChange AlertKind = "refund_change"

// drive takes a refund the caller has claimed (ref.ClaimToken) as far as
// the gateway lets it, and records the result under the claim. When
// mayBeSent is true the number may already be known to the gateway, so it
// is queried before anything is sent. It never issues another number, and
// it records FAIL only when the gateway refused the refund and then did
// not know the number. It returns the refund as stored (or as known, when
// the record failed: the poller will come back to it).
func (r *Refunder) drive(ctx context.Context, ref *store.Refund, mayBeSent bool) *store.Refund {
	c, ok := r.clients[ref.Version]
	if !ok {
		r.log.LogAttrs(ctx, slog.LevelError, "handler: no client for the refund's protocol version",
			slog.String("out_refund_no", ref.OutRefundNo), slog.String("version", string(ref.Version)))
		return r.record(ctx, ref, r.pending(ref, ref.State, 0, "no client for version "+string(ref.Version)))
	}
	state := ref.State
	accepted := state == store.RefundProcessing
	refused := false
	needQuery := mayBeSent
	note := ""
	calls := 0
	for calls < maxRefundCalls {
		if needQuery {
			item, notFound, err := r.query(ctx, c, ref)
			calls++
			switch {
			case err != nil:
				note = "refundquery: " + err.Error()
				return r.record(ctx, ref, r.pending(ref, r.inFlight(state, accepted), calls, note))
			case item != nil && item.RefundStatus == model.RefundNotSure:
				state, needQuery = store.RefundNotSure, false
				continue
			case item != nil:
				return r.record(ctx, ref, r.outcome(ctx, ref, item, calls))
			case notFound && refused:
				return r.record(ctx, ref, store.RefundUpdate{State: store.RefundFailed, Tried: calls,
					Note: "refused, and the gateway does not know the number: " + note})
			case notFound && accepted:
				// Accepted but not visible yet: keep asking, never re-send.
				return r.record(ctx, ref, r.pending(ref, store.RefundProcessing, calls, "accepted; not in refundquery yet"))
			}
			needQuery = false
			continue
		}
		err := r.send(ctx, c, ref)
		calls++
		switch {
		case err == nil:
			accepted, state = true, store.RefundProcessing
			note = "accepted"
		case client.Uncertain(err):
			note = "refund: " + err.Error()
		default:
			refused = true
			note = "refund: " + err.Error()
		}
		needQuery = true
	}
	return r.record(ctx, ref, r.pending(ref, r.inFlight(state, accepted), calls, note))
}

// inFlight is the state to record for a refund whose outcome is still open.
func (r *Refunder) inFlight(state store.RefundState, accepted bool) store.RefundState {
	if accepted {
		return store.RefundProcessing
	}
	if state == store.RefundNotSure {
		return store.RefundNotSure
	}
	return store.RefundPending
}

// pending is an update that keeps the refund in flight, due again on the
// schedule, and gives its claim up so that whoever is due may take it.
func (r *Refunder) pending(ref *store.Refund, state store.RefundState, calls int, note string) store.RefundUpdate {
	return store.RefundUpdate{State: state, Tried: calls, Note: note, NextDue: r.due(ref.CreatedAt, r.now()), Release: true}
}

// outcome maps a refund_list item the gateway reported for ref.
func (r *Refunder) outcome(ctx context.Context, ref *store.Refund, item *model.RefundItem, calls int) store.RefundUpdate {
	u := store.RefundUpdate{Tried: calls, RefundID: item.RefundID, Note: "refund_status " + string(item.RefundStatus)}
	if item.RefundTime != "" {
		if t, err := model.ParseTime(item.RefundTime); err == nil {
			u.RefundedAt = t
		}
	}
	switch item.RefundStatus {
	case model.RefundSuccess:
		u.State = store.RefundSucceeded
	case model.RefundFail:
		u.State = store.RefundFailed
	case model.RefundChange:
		u.State = store.RefundChanged
		a := Alert{Kind: AlertRefundChange, Source: SourceRefund, OutTradeNo: ref.OutTradeNo, OutRefundNo: ref.OutRefundNo,
			BusinessID: ref.BusinessID, MchID: ref.MchID, GotMchID: ref.MchID, WantAmount: ref.Amount,
			GotAmount: ref.Amount, Status: string(item.RefundStatus), TransactionID: item.RefundID}
		r.log.LogAttrs(ctx, slog.LevelError, "handler: refund returned to the merchant: pay the buyer another way",
			slog.String("alert", string(a.Kind)), slog.String("out_refund_no", ref.OutRefundNo),
			slog.String("out_trade_no", ref.OutTradeNo), slog.Int64("refund_fee", ref.Amount))
		if r.alert != nil {
			r.alert(ctx, a)
		}
	default: // PROCESSING, or a status the documents do not name
		u.State = store.RefundProcessing
		u.NextDue, u.Release = r.due(ref.CreatedAt, r.now()), true
	}
	return u
}

// record writes u under ref's claim and returns the refund as stored. If
// the claim was lost (another worker took the refund over), the write is
// refused and the stored refund is returned: the new holder decides.
func (r *Refunder) record(ctx context.Context, ref *store.Refund, u store.RefundUpdate) *store.Refund {
	// Record even when ctx has just ended: the gateway call happened.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	got, err := r.refunds.UpdateRefund(wctx, ref.OutRefundNo, ref.ClaimToken, u, r.now())
	if err == nil {
		r.observeRecorded(ref, u.State)
		if u.State.Final() {
			r.log.LogAttrs(ctx, slog.LevelInfo, "handler: refund final",
				slog.String("out_refund_no", ref.OutRefundNo), slog.String("state", string(u.State)))
		}
		return got
	}
	r.log.LogAttrs(ctx, slog.LevelWarn, "handler: refund outcome not recorded",
		slog.String("out_refund_no", ref.OutRefundNo), slog.String("state", string(u.State)), slog.String("err", err.Error()))
	if cur, gerr := r.refunds.GetRefund(wctx, ref.OutRefundNo); gerr == nil {
		return cur
	}
	c := *ref
	c.ClaimToken = ""
	return &c
}

// send asks the gateway for the refund under its own number and amount.
func (r *Refunder) send(ctx context.Context, c *client.Client, ref *store.Refund) error {
	_, err := c.Refund(ctx, &model.RefundRequest{
		PayType: ref.Channel, MchID: ref.MchID, OutTradeNo: ref.OutTradeNo, OutRefundNo: ref.OutRefundNo,
		TotalFee: ref.OrderAmount, RefundFee: ref.Amount, OpUserID: r.opUser,
	})
	r.noteReply(ctx, ref, err)
	return err
}

// noteReply counts an unverifiable reply about ref towards
// AlertUnsignedReply.
func (r *Refunder) noteReply(ctx context.Context, ref *store.Refund, err error) {
	noteReply(ctx, &r.unsigned, r.log, r.alert, Alert{Source: SourceRefund, OutTradeNo: ref.OutTradeNo,
		OutRefundNo: ref.OutRefundNo, BusinessID: ref.BusinessID, MchID: ref.MchID, Status: string(ref.State)}, err)
}

// errRefundReply: a verified refundquery reply that does not fit the
// refund asked about.
var errRefundReply = errors.New("handler: refundquery reply does not match the refund")

// query asks the gateway about ref's number. It returns the matching
// refund_list item; or notFound when the gateway answered, definitively,
// that it does not know the number; or an error when the answer says
// nothing certain (it may still know it).
func (r *Refunder) query(ctx context.Context, c *client.Client, ref *store.Refund) (item *model.RefundItem, notFound bool, err error) {
	resp, err := c.RefundQuery(ctx, &model.RefundQueryRequest{PayType: ref.Channel, MchID: ref.MchID, OutRefundNo: ref.OutRefundNo})
	r.noteReply(ctx, ref, err)
	if err != nil {
		// An unsigned, badly signed or re-cut reply (client.Unverifiable)
		// is Uncertain, so it falls through to "nothing certain" below:
		// no state is recorded on it (guarantee G14).
		var ge *client.GatewayError
		if errors.As(err, &ge) && !client.Uncertain(err) &&
			(ge.Code == model.CodeRefundQueryError || ge.Code == model.CodeOrderNotFound) {
			return nil, true, nil
		}
		return nil, false, err
	}
	if resp.OutTradeNo != "" && resp.OutTradeNo != ref.OutTradeNo {
		return nil, false, fmt.Errorf("%w: out_trade_no %q", errRefundReply, resp.OutTradeNo)
	}
	items, err := resp.RefundItems()
	if err != nil {
		return nil, false, err
	}
	for i := range items {
		it := &items[i]
		if it.OutRefundNo != ref.OutRefundNo {
			continue
		}
		if fee := it.BaseRefundFee; fee != 0 && fee != ref.Amount {
			return nil, false, fmt.Errorf("%w: base_refund_fee %d, want %d", errRefundReply, fee, ref.Amount)
		}
		return it, false, nil
	}
	// A reply without our number is no proof that the gateway lacks it.
	return nil, false, fmt.Errorf("%w: %s not in refund_list", errRefundReply, ref.OutRefundNo)
}
