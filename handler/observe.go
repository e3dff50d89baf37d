package handler

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/cypaykit/kit/store"
)

// Stage names a step of the kit's work that a Trace hook sees. The set is
// closed, so a stage is safe as a span name or a metric label.
type Stage string

// Stages reported to SettlerConfig.Trace, PreOrderConfig.Trace and
// RefunderConfig.Trace.
const (
	// StageNotify is one notification, from the request reaching Notify
	// to its reply.
	StageNotify Stage = "notify"
	// StageVerify is resolving the order's keys and checking the sign of
	// a notification.
	StageVerify Stage = "verify"
	// StageSettle is checking a verified payment against the stored order,
	// the compare-and-set and, when due, the fulfilment.
	StageSettle Stage = "settle"
	// StageFulfil is one run of the host's fulfilment hook (not reported
	// when SettlerConfig.Fulfill is nil).
	StageFulfil Stage = "fulfil"
	// StagePreOrder is one pre-order request, including the gateway call.
	StagePreOrder Stage = "preorder"
	// StageReconcile is one Reconciler pass.
	StageReconcile Stage = "reconcile"
	// StageRefund is one gateway round of a refund (RefunderConfig.Trace):
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

// endNothing is the end function of an untraced stage; being one shared
// value, it costs no allocation.
var endNothing = func(error) {}

// stage starts st under the Settler's Trace hook, if any.
func (s *Settler) stage(ctx context.Context, st Stage) (context.Context, func(error)) {
	if s.trace == nil {
		return ctx, endNothing
	}
	return s.trace(ctx, st)
}

// traceRequest starts st for an HTTP request and returns the request
// carrying the stage's context.
func traceRequest(t Trace, r *http.Request, st Stage) (*http.Request, func(error)) {
	if t == nil {
		return r, endNothing
	}
	ctx, end := t(r.Context(), st)
	if ctx != r.Context() {
		// A hook that only measures keeps the context: no request copy.
		r = r.WithContext(ctx)
	}
	return r, end
}

// settleTraced is settle as one StageSettle.
func (s *Settler) settleTraced(ctx context.Context, o *store.Order, p proof) (Outcome, error) {
	if s.trace == nil {
		return s.settle(ctx, o, p)
	}
	ctx, end := s.trace(ctx, StageSettle)
	outcome, err := s.settle(ctx, o, p)
	end(err)
	return outcome, err
}

// ServeHTTP handles one pre-order request.
func (p *PreOrder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.trace == nil {
		p.serve(w, r)
		return
	}
	r, end := traceRequest(p.trace, r, StagePreOrder)
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	p.serve(sw, r)
	var err error
	if sw.status >= 500 {
		// A 4xx is the caller's mistake, not a failure of the stage.
		err = fmt.Errorf("handler: pre-order answered %d", sw.status)
	}
	end(err)
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// beginPass starts a Reconciler pass: its StageReconcile and, at the end,
// its PassEvent.
func (r *Reconciler) beginPass(ctx context.Context) (context.Context, func(p *PassEvent, err error)) {
	if r.settler.trace == nil && r.observePass == nil {
		return ctx, endPassNothing
	}
	start := time.Now()
	ctx, end := r.settler.stage(ctx, StageReconcile)
	return ctx, func(p *PassEvent, err error) {
		end(err)
		if r.observePass != nil {
			p.Duration, p.Err = time.Since(start), err
			r.observePass(*p)
		}
	}
}

var endPassNothing = func(*PassEvent, error) {}
