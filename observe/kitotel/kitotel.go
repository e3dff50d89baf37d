// Package kitotel traces and measures cypaykit with OpenTelemetry: spans
// for notifications (verify, settle and fulfil as children), pre-orders,
// reconciler passes, refunds and gateway calls (through an instrumented
// http.RoundTripper), and the same measurements as observe/kitprom as OTel
// metrics. Metric attributes come from closed sets (never an order
// number); a failed span records the kit's error, which never carries keys.
package kitotel

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/observe/internal/hookchain"
	"github.com/cypaykit/kit/observe/internal/obslabel"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/cypaykit/kit/observe/kitotel"

// Config configures an Instrumentation. Every field documents its zero
// value.
type Config struct {
	// TracerProvider makes the tracer. Nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the meter. Nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Pending is counted at each collection for cypaykit.pending_attempts.
	// Nil means that gauge is not reported.
	Pending store.PendingCounter
}

// Instrumentation holds the tracer and instruments. Wire it with
// InstrumentSettler, InstrumentPreOrder, InstrumentClient,
// InstrumentReconciler and InstrumentRefunder. It is safe for concurrent use.
type Instrumentation struct {
	tracer          trace.Tracer
	notifications   metric.Int64Counter
	notifyDuration  metric.Float64Histogram
	fulfilments     metric.Int64Counter
	fulfilDuration  metric.Float64Histogram
	gatewayRequests metric.Int64Counter
	gatewayDuration metric.Float64Histogram
	checks          metric.Int64Counter
	passes          metric.Int64Counter
	failedChecks    metric.Int64Counter
	alerts          metric.Int64Counter
	refunds         metric.Int64Counter
	refundedFen     metric.Int64Counter
}

// New creates the tracer and the instruments.
func New(cfg Config) (*Instrumentation, error) {
	tp, mp := cfg.TracerProvider, cfg.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName)
	in := &Instrumentation{tracer: tp.Tracer(ScopeName)}
	var errs []error
	counter := func(name, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string, bounds ...float64) metric.Float64Histogram {
		opts := []metric.Float64HistogramOption{metric.WithDescription(desc), metric.WithUnit("s")}
		if len(bounds) > 0 {
			opts = append(opts, metric.WithExplicitBucketBoundaries(bounds...))
		}
		h, err := meter.Float64Histogram(name, opts...)
		errs = append(errs, err)
		return h
	}
	in.notifications = counter("cypaykit.notifications", "Payment notifications and reconciler query results handled, by outcome and source.")
	in.notifyDuration = histogram("cypaykit.notification.duration", "Time from a notification reaching the handler to its reply; the gateway gives up after 3 s.",
		.005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2, 2.5, 3)
	in.fulfilments = counter("cypaykit.fulfilments", "Runs of the host's fulfilment hook, by result.")
	in.fulfilDuration = histogram("cypaykit.fulfilment.duration", "Time one run of the host's fulfilment hook took.")
	in.gatewayRequests = counter("cypaykit.gateway.requests", "Calls to the payment gateway, by operation and result class.")
	in.gatewayDuration = histogram("cypaykit.gateway.request.duration", "Time one call to the payment gateway took.")
	in.checks = counter("cypaykit.reconcile.checks", "Attempts the reconciler settled, closed or found unpaid by query, or retried, by result.")
	in.passes = counter("cypaykit.reconcile.passes", "Reconciler passes run.")
	in.failedChecks = counter("cypaykit.reconcile.failed_checks", "Reconciler checks that ended in an error.")
	in.alerts = counter("cypaykit.alerts", "Validly signed messages that contradict the stored order, by kind.")
	in.refunds = counter("cypaykit.refunds", "Refund steps by result: requested, refused and error once per request; succeeded, failed and change once per refund; processing, notsure and uncertain once per gateway round that left it in flight.")
	var err error
	in.refundedFen, err = meter.Int64Counter("cypaykit.refunded", metric.WithUnit("{fen}"),
		metric.WithDescription("Fen the gateway reported refunded (refunds recorded SUCCESS)."))
	errs = append(errs, err)
	if cfg.Pending != nil {
		pc := cfg.Pending
		_, err := meter.Int64ObservableGauge("cypaykit.pending_attempts",
			metric.WithDescription("Payment attempts PENDING now."),
			metric.WithInt64Callback(func(ctx context.Context, o metric.Int64Observer) error {
				n, err := pc.CountPending(ctx)
				if err != nil {
					return err
				}
				o.Observe(n)
				return nil
			}))
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return in, nil
}

// Trace starts a span per stage (named "cypaykit.<stage>"), records the
// error that ends it, and measures the fulfilment hook; use it as
// handler.SettlerConfig.Trace, handler.PreOrderConfig.Trace and
// refund.Config.Trace.
func (in *Instrumentation) Trace(ctx context.Context, st handler.Stage) (context.Context, func(error)) {
	kind := trace.SpanKindInternal
	if st == handler.StageNotify || st == handler.StagePreOrder {
		kind = trace.SpanKindServer
	}
	ctx, span := in.tracer.Start(ctx, spanName(st), trace.WithSpanKind(kind))
	var start time.Time
	if st == handler.StageFulfil {
		start = time.Now()
	}
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, errorClass(err))
		}
		span.End()
		if st == handler.StageFulfil {
			result := "ok"
			if err != nil {
				result = "error"
			}
			in.fulfilDuration.Record(ctx, time.Since(start).Seconds())
			in.fulfilments.Add(ctx, 1, metric.WithAttributes(attribute.String("result", result)))
		}
	}
}

// Observe counts an Event, times a notification, and marks the current
// span with the outcome; use it as handler.SettlerConfig.Observe.
func (in *Instrumentation) Observe(e handler.Event) {
	ctx := context.Background()
	outcome, source := obslabel.Outcome(e.Outcome), obslabel.Source(e.Source)
	in.notifications.Add(ctx, 1, metric.WithAttributes(
		attribute.String("outcome", outcome), attribute.String("source", source)))
	switch e.Source {
	case handler.SourceNotify:
		in.notifyDuration.Record(ctx, e.Duration.Seconds())
	case handler.SourceQuery, handler.SourceRetry:
		in.checks.Add(ctx, 1, metric.WithAttributes(attribute.String("result", outcome)))
	}
}

// Alert counts an Alert and adds it as an event to the current span; use
// it as handler.SettlerConfig.Alert.
func (in *Instrumentation) Alert(ctx context.Context, a handler.Alert) {
	kind := attribute.String("kind", obslabel.AlertKind(a.Kind))
	in.alerts.Add(ctx, 1, metric.WithAttributes(kind))
	trace.SpanFromContext(ctx).AddEvent("cypaykit.alert", trace.WithAttributes(kind))
}

// ObserveCall counts and times a gateway call; use it as
// client.Config.Observe.
func (in *Instrumentation) ObserveCall(e client.CallEvent) {
	ctx := context.Background()
	op := attribute.String("op", obslabel.Op(e.Op))
	in.gatewayRequests.Add(ctx, 1, metric.WithAttributes(op, attribute.String("result", obslabel.Result(e.Result))))
	in.gatewayDuration.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(op))
}

// ObservePass counts a reconciler pass; use it as
// handler.ReconcilerConfig.ObservePass.
func (in *Instrumentation) ObservePass(p handler.PassEvent) {
	ctx := context.Background()
	in.passes.Add(ctx, 1)
	in.failedChecks.Add(ctx, int64(p.Failed))
}

// ObserveRefund counts a refund step and, when it succeeded, its amount;
// use it as refund.Config.Observe.
func (in *Instrumentation) ObserveRefund(e refund.Event) {
	ctx := context.Background()
	in.refunds.Add(ctx, 1, metric.WithAttributes(attribute.String("result", obslabel.RefundResult(e.Result))))
	if e.Result == refund.Succeeded && e.Amount > 0 {
		in.refundedFen.Add(ctx, e.Amount)
	}
}

// Transport wraps base (nil means http.DefaultTransport) so that every
// gateway request gets a client span "cypaykit.gateway <op>" under the
// caller's span, with the HTTP status. It injects no headers: trace
// context is not the gateway's business.
func (in *Instrumentation) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{in: in, base: base}
}

type transport struct {
	in   *Instrumentation
	base http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	op := obslabel.Op(client.CallOp(r.Context()))
	ctx, span := t.in.tracer.Start(r.Context(), "cypaykit.gateway "+op,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("cypaykit.op", op),
			attribute.String("http.request.method", r.Method),
			attribute.String("server.address", r.URL.Hostname())))
	defer span.End()
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "transport error")
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, resp.Status)
	}
	return resp, nil
}

// InstrumentSettler sets cfg's Observe, Alert and Trace to in's, keeping
// (and calling first) any hooks already set.
func (in *Instrumentation) InstrumentSettler(cfg *handler.SettlerConfig) {
	cfg.Observe = hookchain.Then(cfg.Observe, in.Observe)
	cfg.Alert = hookchain.ThenCtx(cfg.Alert, in.Alert)
	cfg.Trace = hookchain.Trace(cfg.Trace, in.Trace)
}

// InstrumentPreOrder sets cfg.Trace to in's, keeping any hook already set.
func (in *Instrumentation) InstrumentPreOrder(cfg *handler.PreOrderConfig) {
	cfg.Trace = hookchain.Trace(cfg.Trace, in.Trace)
}

// InstrumentClient sets cfg.Observe to in's (keeping any hook already set)
// and wraps cfg.HTTPClient's transport with Transport, copying the client
// (nil means one with the client package's 15 s timeout).
func (in *Instrumentation) InstrumentClient(cfg *client.Config) {
	cfg.Observe = hookchain.Then(cfg.Observe, in.ObserveCall)
	hc := &http.Client{Timeout: 15 * time.Second}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	hc.Transport = in.Transport(hc.Transport)
	cfg.HTTPClient = hc
}

// InstrumentReconciler sets cfg.ObservePass to in's, keeping any hook
// already set.
func (in *Instrumentation) InstrumentReconciler(cfg *handler.ReconcilerConfig) {
	cfg.ObservePass = hookchain.Then(cfg.ObservePass, in.ObservePass)
}

// InstrumentRefunder sets cfg's Observe, Alert and Trace to in's (a
// "cypaykit.refund" span around each gateway round of a refund, with the
// gateway calls as children when the client is instrumented too), keeping
// (and calling first) any hooks already set.
func (in *Instrumentation) InstrumentRefunder(cfg *refund.Config) {
	cfg.Observe = hookchain.Then(cfg.Observe, in.ObserveRefund)
	cfg.Alert = hookchain.ThenCtx(cfg.Alert, in.Alert)
	cfg.Trace = hookchain.Trace(cfg.Trace, in.Trace)
}

// spanNames are the span names of the stages; a stage this version does
// not know gets "cypaykit.stage", so names stay a closed set.
var spanNames = map[handler.Stage]string{
	handler.StageNotify: "cypaykit.notify", handler.StageVerify: "cypaykit.verify",
	handler.StageSettle: "cypaykit.settle", handler.StageFulfil: "cypaykit.fulfil",
	handler.StagePreOrder: "cypaykit.preorder", handler.StageReconcile: "cypaykit.reconcile",
	handler.StageRefund: "cypaykit.refund",
}

func spanName(st handler.Stage) string {
	if n, ok := spanNames[st]; ok {
		return n
	}
	return "cypaykit.stage"
}

// errorClass is a span status description that never carries the error's
// text (which may name an order).
func errorClass(err error) string {
	for _, c := range []struct {
		err  error
		desc string
	}{
		{handler.ErrMalformed, "malformed"},
		{handler.ErrMismatch, "mismatch"},
		{handler.ErrHook, "fulfilment hook failed"},
		{context.DeadlineExceeded, "deadline exceeded"},
	} {
		if errors.Is(err, c.err) {
			return c.desc
		}
	}
	return "error"
}
