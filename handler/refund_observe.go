package handler

import (
	"context"
	"errors"

	"github.com/cypaykit/kit/store"
)

// RefundResult names what happened to a refund in a RefundEvent. The set
// is closed, so a result is safe as a metric label.
type RefundResult string

// Refund results reported to RefunderConfig.Observe. Requested, Refused
// and Error are reported once per request; Succeeded, Failed and Change
// once per refund, when its final state is recorded; Processing, NotSure
// and Uncertain once per gateway round (a Refund call or a Poll of the
// refund) that leaves it in flight, so their growth shows refunds the
// gateway is slow to finish.
const (
	// RefundRequested: a refund was reserved and recorded (Refund or
	// Enqueue); a repeat with the same idempotency key is not counted.
	RefundRequested RefundResult = "requested"
	// RefundRefused: the request was refused before anything was recorded
	// (ErrOrderNotFound, ErrNotRefundable, ErrRefundAmount,
	// ErrRefundKeyReused).
	RefundRefused RefundResult = "refused"
	// RefundError: the store failed while reserving; nothing was recorded.
	RefundError RefundResult = "error"
	// RefundSucceeded: the gateway reported SUCCESS; the money is back
	// with the buyer. RefundEvent.Amount is the refunded amount.
	RefundSucceeded RefundResult = "succeeded"
	// RefundFailed: the gateway reported FAIL, or refused the refund
	// and does not know its number; the reservation was released.
	RefundFailed RefundResult = "failed"
	// RefundChange: the gateway reported CHANGE; the money went back to
	// the merchant's account and a person must pay the buyer (the Alert
	// hook also sees AlertRefundChange).
	RefundChange RefundResult = "change"
	// RefundProcessing: the gateway accepted the refund and has not
	// finished it.
	RefundProcessing RefundResult = "processing"
	// RefundNotSure: the gateway answered NOTSURE; the same number
	// is sent again.
	RefundNotSure RefundResult = "notsure"
	// RefundUncertain: the gateway gave no certain answer (timeout, lost
	// reply, unknown number); the refund stays PENDING and is queried.
	RefundUncertain RefundResult = "uncertain"
)

// RefundResults lists every RefundResult, for adapters that create their
// series up front.
var RefundResults = []RefundResult{
	RefundRequested, RefundRefused, RefundError, RefundSucceeded, RefundFailed,
	RefundChange, RefundProcessing, RefundNotSure, RefundUncertain,
}

// RefundEvent reports one step of a refund to RefunderConfig.Observe.
type RefundEvent struct {
	// Result is what happened.
	Result RefundResult
	// Amount is the refund's amount in fen; zero on RefundRefused and
	// RefundError when the request named no valid amount.
	Amount int64
	// OutRefundNo and OutTradeNo name the refund and the attempt, for
	// logs; empty when nothing was recorded. Never use them as metric
	// labels: every refund would add a series.
	OutRefundNo, OutTradeNo string
	// Err is why the request was refused (RefundRefused, RefundError).
	Err error
}

// observe reports e to the Observe hook, if any, and to the history.
func (r *Refunder) observe(e RefundEvent) {
	if r.obs != nil {
		r.obs(e)
	}
	if r.hist != nil {
		r.recordRefund(e)
	}
}

// recordRefund writes a refund step into its attempt's history: a request
// (recorded or refused) as EventRefundRequested, every later step as
// EventRefundAnswered.
func (r *Refunder) recordRefund(e RefundEvent) {
	if e.OutTradeNo == "" {
		return
	}
	ev := store.Event{OutTradeNo: e.OutTradeNo, At: r.now(), Kind: store.EventRefundAnswered, Source: string(SourceRefund),
		Outcome: string(e.Result), Amount: e.Amount, Detail: "out_refund_no=" + e.OutRefundNo}
	switch e.Result {
	case RefundRequested, RefundRefused, RefundError:
		ev.Kind = store.EventRefundRequested
	}
	if e.Err != nil {
		ev.Detail += " err=" + e.Err.Error()
	}
	r.hist.record(context.Background(), ev)
}

// observeRefused reports a request reserve refused with err.
func (r *Refunder) observeRefused(req RefundRequest, err error) {
	if r.obs == nil && r.hist == nil {
		return
	}
	res := RefundError
	if errors.Is(err, ErrOrderNotFound) || errors.Is(err, ErrNotRefundable) ||
		errors.Is(err, ErrRefundAmount) || errors.Is(err, ErrRefundKeyReused) {
		res = RefundRefused
	}
	r.observe(RefundEvent{Result: res, Amount: max(req.Amount, 0), OutTradeNo: req.OutTradeNo, Err: err})
}

// stateResults maps a recorded refund state to its result.
var stateResults = map[store.RefundState]RefundResult{
	store.RefundSucceeded:  RefundSucceeded,
	store.RefundFailed:     RefundFailed,
	store.RefundChanged:    RefundChange,
	store.RefundProcessing: RefundProcessing,
	store.RefundNotSure:    RefundNotSure,
	store.RefundPending:    RefundUncertain,
}

// observeRecorded reports the state drive recorded for ref.
func (r *Refunder) observeRecorded(ref *store.Refund, st store.RefundState) {
	if r.obs == nil && r.hist == nil {
		return
	}
	if res, ok := stateResults[st]; ok {
		r.observe(RefundEvent{Result: res, Amount: ref.Amount, OutRefundNo: ref.OutRefundNo, OutTradeNo: ref.OutTradeNo})
	}
}

// errRefundUncertain ends a StageRefund whose gateway round left the
// refund without a certain answer.
var errRefundUncertain = errors.New("handler: refund outcome not certain yet")

// driveTraced is drive as one StageRefund.
func (r *Refunder) driveTraced(ctx context.Context, ref *store.Refund, mayBeSent bool) *store.Refund {
	if r.trace == nil {
		return r.drive(ctx, ref, mayBeSent)
	}
	ctx, end := r.trace(ctx, StageRefund)
	got := r.drive(ctx, ref, mayBeSent)
	var err error
	if got.State == store.RefundPending || got.State == store.RefundNotSure {
		err = errRefundUncertain
	}
	end(err)
	return got
}
