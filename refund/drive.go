package refund

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// maxCalls bounds the gateway calls one drive makes; what is left
// unknown is picked up by Poll on the schedule.
const maxCalls = 4

// drive takes a refund the caller has claimed (ref.ClaimToken) as far as
// the gateway lets it, and records the result under the claim. When
// mayBeSent is true the number may already be known to the gateway, so it
// is queried before anything is sent. It never issues another number, and
// it records FAIL only on a signed refund_status FAIL: a refusal and an
// unknown number, both unsigned errors, keep the refund reserved and raise
// handler.AlertRefundUnconfirmed. It returns the refund as stored (or as known, when
// the record failed: the poller will come back to it).
func (r *Refunder) drive(ctx context.Context, ref *store.Refund, mayBeSent bool) *store.Refund {
	c, ok := r.clients[ref.Version]
	if !ok {
		r.log.LogAttrs(ctx, slog.LevelError, "refund: no client for the refund's protocol version",
			slog.String("out_refund_no", ref.OutRefundNo), slog.String("version", string(ref.Version)))
		return r.record(ctx, ref, r.pending(ref, ref.State, 0, "no client for version "+string(ref.Version)))
	}
	state := ref.State
	accepted := state == store.RefundProcessing
	refused := false
	needQuery := mayBeSent
	note := ""
	calls := 0
	for calls < maxCalls {
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
				// Both answers are plain errors, which the gateway never
				// signs: a party on the path can forge the pair for a
				// refund the gateway made. Recording FAIL would free the
				// amount for a second refund (guarantee G14), so the
				// refund stays reserved and in flight, sent again under
				// its own number on the schedule (the gateway knows a
				// number it made), and a person is told.
				r.refundAlert(ctx, ref, handler.Alert{Kind: handler.AlertRefundUnconfirmed, GotAmount: 0, Status: "refused"},
					"refund: refused and unknown to the gateway, on unsigned replies: kept reserved, check the merchant console")
				return r.record(ctx, ref, r.pending(ref, store.RefundPending, calls,
					"refused, and the gateway does not know the number (unsigned errors, not recorded FAIL): "+note))
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

// driveTraced is drive as one handler.StageRefund.
func (r *Refunder) driveTraced(ctx context.Context, ref *store.Refund, mayBeSent bool) *store.Refund {
	if r.trace == nil {
		return r.drive(ctx, ref, mayBeSent)
	}
	ctx, end := r.trace(ctx, handler.StageRefund)
	got := r.drive(ctx, ref, mayBeSent)
	var err error
	if got.State == store.RefundPending || got.State == store.RefundNotSure {
		err = errUncertain
	}
	end(err)
	return got
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
		// Coupons are not refunded in cash, so refund_fee plus
		// coupon_refund_fee is what was requested. Less (or more) is not
		// the refund asked for: a person must look, and the amount stays
		// reserved and in flight rather than be reported back to the buyer.
		if got := item.RefundFee + item.CouponRefundFee; got != ref.Amount {
			r.refundAlert(ctx, ref, handler.Alert{Kind: handler.AlertAmountMismatch, GotAmount: got, Status: string(item.RefundStatus), TransactionID: item.RefundID},
				"refund: refund_fee reported differs from the refund requested")
			u.State, u.Note = store.RefundProcessing, fmt.Sprintf("refund_status SUCCESS with refund_fee %d + coupon_refund_fee %d, want %d", item.RefundFee, item.CouponRefundFee, ref.Amount)
			u.NextDue, u.Release, u.RefundedAt = r.due(ref.CreatedAt, r.now()), true, time.Time{}
			return u
		}
		u.State = store.RefundSucceeded
	case model.RefundFail:
		u.State = store.RefundFailed
	case model.RefundChange:
		u.State = store.RefundChanged
		r.refundAlert(ctx, ref, handler.Alert{Kind: handler.AlertRefundChange, GotAmount: ref.Amount, Status: string(item.RefundStatus), TransactionID: item.RefundID},
			"refund: returned to the merchant: pay the buyer another way")
	default: // PROCESSING, or a status the documents do not name
		u.State = store.RefundProcessing
		u.NextDue, u.Release = r.due(ref.CreatedAt, r.now()), true
	}
	return u
}

// refundAlert fills a's refund fields from ref, logs it at error level
// with msg and passes it to the handler.Alert hook.
func (r *Refunder) refundAlert(ctx context.Context, ref *store.Refund, a handler.Alert, msg string) {
	a.Source, a.OutTradeNo, a.OutRefundNo, a.BusinessID = handler.SourceRefund, ref.OutTradeNo, ref.OutRefundNo, ref.BusinessID
	a.MchID, a.GotMchID, a.WantAmount = ref.MchID, ref.MchID, ref.Amount
	r.log.LogAttrs(ctx, slog.LevelError, msg,
		slog.String("alert", string(a.Kind)), slog.String("out_refund_no", ref.OutRefundNo),
		slog.String("out_trade_no", ref.OutTradeNo), slog.Int64("refund_fee", ref.Amount), slog.Int64("got_fee", a.GotAmount))
	if r.alert != nil {
		r.alert(ctx, a)
	}
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
			r.log.LogAttrs(ctx, slog.LevelInfo, "refund: final",
				slog.String("out_refund_no", ref.OutRefundNo), slog.String("state", string(u.State)))
		}
		return got
	}
	r.log.LogAttrs(ctx, slog.LevelWarn, "refund: outcome not recorded",
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
// handler.AlertUnsignedReply.
func (r *Refunder) noteReply(ctx context.Context, ref *store.Refund, err error) {
	r.unsigned.Note(ctx, r.log, r.alert, handler.Alert{Source: handler.SourceRefund, OutTradeNo: ref.OutTradeNo,
		OutRefundNo: ref.OutRefundNo, BusinessID: ref.BusinessID, MchID: ref.MchID, Status: string(ref.State)}, err)
}

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
		return nil, false, fmt.Errorf("%w: out_trade_no %q", errReply, resp.OutTradeNo)
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
			return nil, false, fmt.Errorf("%w: base_refund_fee %d, want %d", errReply, fee, ref.Amount)
		}
		return it, false, nil
	}
	// A reply without our number is no proof that the gateway lacks it.
	return nil, false, fmt.Errorf("%w: %s not in refund_list", errReply, ref.OutRefundNo)
}
