package refund

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
)

// Result names what happened to a refund in an Event. The set is closed,
// so a result is safe as a metric label.
type Result string

// Refund results reported to Config.Observe. Requested, Refused and
// StoreError are reported once per request; Succeeded, Failed and Change
// once per refund, when its final state is recorded; Processing, NotSure
// and Uncertain once per gateway round (a Refund call or a Poll of the
// refund) that leaves it in flight, so their growth shows refunds the
// gateway is slow to finish.
const (
	// Requested: a refund was reserved and recorded (Refund or
	// Enqueue); a repeat with the same idempotency key is not counted.
	Requested Result = "requested"
	// Refused: the request was refused before anything was recorded
	// (handler.ErrOrderNotFound, ErrNotRefundable, ErrAmount,
	// ErrKeyReused).
	Refused Result = "refused"
	// StoreError: the store failed while reserving; nothing was recorded.
	StoreError Result = "error"
	// Succeeded: the gateway reported SUCCESS; the money is back
	// with the buyer. Event.Amount is the refunded amount.
	Succeeded Result = "succeeded"
	// Failed: the gateway reported FAIL, or refused the refund
	// and does not know its number; the reservation was released.
	Failed Result = "failed"
	// Change: the gateway reported CHANGE; the money went back to
	// the merchant's account and a person must pay the buyer (the handler.Alert
	// hook also sees handler.AlertRefundChange).
	Change Result = "change"
	// Processing: the gateway accepted the refund and has not
	// finished it.
	Processing Result = "processing"
	// NotSure: the gateway answered NOTSURE; the same number
	// is sent again.
	NotSure Result = "notsure"
	// Uncertain: the gateway gave no certain answer (timeout, lost
	// reply, unknown number); the refund stays PENDING and is queried.
	Uncertain Result = "uncertain"
)

// Results returns every Result, for adapters that create their series up
// front. Each call returns a fresh slice.
func Results() []Result {
	return []Result{
		Requested, Refused, StoreError, Succeeded, Failed,
		Change, Processing, NotSure, Uncertain,
	}
}

// Event reports one step of a refund to Config.Observe.
type Event struct {
	// Result is what happened.
	Result Result
	// Amount is the refund's amount in fen; zero on Refused and
	// StoreError when the request named no valid amount.
	Amount int64
	// OutRefundNo and OutTradeNo name the refund and the attempt, for
	// logs; empty when nothing was recorded. Never use them as metric
	// labels: every refund would add a series.
	OutRefundNo, OutTradeNo string
	// Err is why the request was refused (Refused, StoreError).
	Err error
}

// historyWriteFor bounds one write to the history, so that a store that
// hangs delays a refund step by at most this long (as handler's history).
const historyWriteFor = time.Second

// hostName is the Instance of the events a Refunder records: the host's
// name, read once.
var hostName = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
})

// observe reports e to the Observe hook, if any, and to the history.
func (r *Refunder) observe(e Event) {
	if r.obs != nil {
		r.obs(e)
	}
	if r.events != nil {
		r.recordRefund(e)
	}
}

// recordRefund writes a refund step into its attempt's history: a request
// (recorded or refused) as EventRefundRequested, every later step as
// EventRefundAnswered.
func (r *Refunder) recordRefund(e Event) {
	if e.OutTradeNo == "" {
		return
	}
	ev := store.Event{OutTradeNo: e.OutTradeNo, At: r.now(), Kind: store.EventRefundAnswered, Source: string(handler.SourceRefund),
		Outcome: string(e.Result), Amount: e.Amount, Detail: "out_refund_no=" + e.OutRefundNo}
	switch e.Result {
	case Requested, Refused, StoreError:
		ev.Kind = store.EventRefundRequested
	}
	if e.Err != nil {
		ev.Detail += " err=" + e.Err.Error()
	}
	ev.Instance = r.instance
	ctx, cancel := context.WithTimeout(context.Background(), historyWriteFor)
	defer cancel()
	if err := r.events.AddEvent(ctx, &ev); err != nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "refund: history not recorded; the refund's handling is unchanged",
			slog.String("what", "record "+string(ev.Kind)), slog.String("out_trade_no", ev.OutTradeNo), slog.String("err", err.Error()))
	}
}

// observeRefused reports a request reserve refused with err.
func (r *Refunder) observeRefused(req Request, err error) {
	if r.obs == nil && r.events == nil {
		return
	}
	res := StoreError
	if errors.Is(err, handler.ErrOrderNotFound) || errors.Is(err, ErrNotRefundable) ||
		errors.Is(err, ErrAmount) || errors.Is(err, ErrKeyReused) {
		res = Refused
	}
	r.observe(Event{Result: res, Amount: max(req.Amount, 0), OutTradeNo: req.OutTradeNo, Err: err})
}

// stateResults maps a recorded refund state to its result.
var stateResults = map[store.RefundState]Result{
	store.RefundSucceeded:  Succeeded,
	store.RefundFailed:     Failed,
	store.RefundChanged:    Change,
	store.RefundProcessing: Processing,
	store.RefundNotSure:    NotSure,
	store.RefundPending:    Uncertain,
}

// observeRecorded reports the state drive recorded for ref.
func (r *Refunder) observeRecorded(ref *store.Refund, st store.RefundState) {
	if r.obs == nil && r.events == nil {
		return
	}
	if res, ok := stateResults[st]; ok {
		r.observe(Event{Result: res, Amount: ref.Amount, OutRefundNo: ref.OutRefundNo, OutTradeNo: ref.OutTradeNo})
	}
}
