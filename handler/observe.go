package handler

import (
	"context"
	"time"
)

// Stage names a step of the kit's work that a Trace hook sees. The set is
// closed, so a stage is safe as a span name or a metric label.
type Stage string

// Stages reported to SettlerConfig.Trace, PreOrderConfig.Trace and
// refund.Config.Trace.
const (
	// StageNotify is one notification, from the request reaching Notify
	// to its reply.
	StageNotify Stage = "notify"
	// StageVerify is holding a notification's decided fields to shape,
	// resolving the keys that may sign for its merchant and checking its
	// sign (client.Keyring.VerifyNotification).
	StageVerify Stage = "verify"
	// StageSettle is checking a verified payment against the stored order,
	// the compare-and-set and, when due, the fulfilment. A notification
	// read through a store.ReadSettleLocker made its compare-and-set with
	// the order's read, before this stage (the stages reported are the
	// same).
	StageSettle Stage = "settle"
	// StageFulfil is one run of the host's fulfilment hook (not reported
	// when SettlerConfig.Fulfill is nil).
	StageFulfil Stage = "fulfil"
	// StagePreOrder is one pre-order request, including the gateway call.
	StagePreOrder Stage = "preorder"
	// StageReconcile is one Reconciler pass.
	StageReconcile Stage = "reconcile"
	// StageRefund is one gateway round of a refund (refund.Config.Trace):
	// the refund and refundquery calls of a Refund call or of one Poll of
	// it, and recording what the gateway said.
	StageRefund Stage = "refund"
)

// Trace starts a stage and returns the context the stage runs under and a
// function the kit calls exactly once when the stage ends, with the error
// that ended it (nil on success). The context may carry a span: the kit
// passes it down, so a stage started under it (and a gateway call made
// with it) is its child. A Trace must be fast and safe for concurrent
// use; the end function may run on another goroutine than the start.
//
// A nil Trace costs nothing: no clock read, no allocation. Adapters live
// in the nested modules observe/kitotel (spans) and observe/kitprom
// (fulfilment durations).
type Trace func(ctx context.Context, stage Stage) (context.Context, func(err error))

// PassEvent reports one Reconciler pass to ReconcilerConfig.ObservePass.
// It carries counts only, never order numbers.
type PassEvent struct {
	// Pending is how many PENDING attempts the pass claimed because they
	// were due (at most ReconcilerConfig.Batch in all); with the shared
	// schedule it equals Checked.
	Pending int
	// Checked is how many due attempts were queried this pass.
	Checked int
	// Unfulfilled is how many PAID attempts had their fulfilment retried.
	Unfulfilled int
	// Failed is how many checks and retries ended in an error (a query
	// the gateway did not answer, a store error, a failing hook).
	Failed int
	// Duration is the wall time of the pass.
	Duration time.Duration
	// Err is what RunOnce returned.
	Err error
}
