// Package kitprom exports cypaykit's settlements, duplicates, forgeries,
// alerts, gateway calls, fulfilments, refunds and reconciler backlog as Prometheus
// metrics (client_golang), built on the plain hooks of the handler and
// client packages. Every label value comes from a closed set: never an
// order number, a merchant or a message.
package kitprom

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/observe/internal/hookchain"
	"github.com/cypaykit/kit/observe/internal/obslabel"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
)

// Config configures Metrics. Every field documents its zero value.
type Config struct {
	// Registerer receives the collectors. Nil means
	// prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer
	// Pending is counted at every scrape for cypaykit_pending_attempts.
	// Nil means the gauge is not exported. memstore and sqlstore
	// implement it; any store.OrderStore may be type-asserted:
	//
	//	pc, _ := orders.(store.PendingCounter)
	Pending store.PendingCounter
	// PendingTimeout bounds one count at scrape time; a count that fails
	// or times out leaves the gauge out of that scrape and adds to
	// cypaykit_pending_count_errors_total. Zero means 2 s.
	PendingTimeout time.Duration
}

// Metrics holds the kit's collectors. Wire it with InstrumentSettler,
// InstrumentClient, InstrumentReconciler and InstrumentRefunder (or set its methods as the
// hooks yourself). It is safe for concurrent use.
type Metrics struct {
	notifications   *prometheus.CounterVec
	notifyDuration  prometheus.Histogram
	fulfilments     *prometheus.CounterVec
	fulfilDuration  prometheus.Histogram
	gatewayRequests *prometheus.CounterVec
	gatewayDuration *prometheus.HistogramVec
	checks          *prometheus.CounterVec
	passes          prometheus.Counter
	failedChecks    prometheus.Counter
	alerts          *prometheus.CounterVec
	pendingErrors   prometheus.Counter
	refunds         *prometheus.CounterVec
	refundedFen     prometheus.Counter

	// notifySeries caches the source="notify" series of every known
	// outcome, so that Observe on the notification path skips
	// WithLabelValues' hashing and locking. Read-only after New.
	notifySeries map[handler.Outcome]prometheus.Counter
}

// NotificationBuckets returns the buckets of
// cypaykit_notification_duration_seconds, a fresh slice on each call:
// fine below the kit's default 2 s deadline, and ending at the gateway's
// 3 s, after which it retries.
func NotificationBuckets() []float64 {
	return []float64{.005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2, 2.5, 3}
}

// New creates the collectors and registers them with cfg.Registerer.
func New(cfg Config) (*Metrics, error) {
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.DefaultRegisterer
	}
	if cfg.PendingTimeout < 0 {
		return nil, errors.New("kitprom: Config.PendingTimeout is negative")
	}
	if cfg.PendingTimeout == 0 {
		cfg.PendingTimeout = 2 * time.Second
	}
	m := &Metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cypaykit_notifications_total",
			Help: "Payment notifications and reconciler query results handled, by outcome and source (notify, query, retry).",
		}, []string{"outcome", "source"}),
		notifyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cypaykit_notification_duration_seconds",
			Help:    "Time from a notification reaching the handler to its reply; the gateway gives up after 3 s.",
			Buckets: NotificationBuckets(),
		}),
		fulfilments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cypaykit_fulfilments_total",
			Help: "Runs of the host's fulfilment hook, by result (ok, error).",
		}, []string{"result"}),
		fulfilDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cypaykit_fulfilment_duration_seconds",
			Help:    "Time one run of the host's fulfilment hook took.",
			Buckets: prometheus.DefBuckets,
		}),
		gatewayRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cypaykit_gateway_requests_total",
			Help: "Calls to the payment gateway, by operation and result class.",
		}, []string{"op", "result"}),
		gatewayDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cypaykit_gateway_request_duration_seconds",
			Help:    "Time one call to the payment gateway took, signing and verifying included.",
			Buckets: prometheus.DefBuckets,
		}, []string{"op"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cypaykit_reconcile_checks_total",
			Help: "Attempts the reconciler settled, closed or found unpaid by query, or whose fulfilment it retried, by result.",
		}, []string{"result"}),
		passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cypaykit_reconcile_passes_total",
			Help: "Reconciler passes run.",
		}),
		failedChecks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cypaykit_reconcile_failed_checks_total",
			Help: "Reconciler queries and fulfilment retries that ended in an error (gateway unreachable, store or hook failure).",
		}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cypaykit_alerts_total",
			Help: "Validly signed messages that contradict the stored order (amount, merchant, double payment...), by kind. Any increase needs a person.",
		}, []string{"kind"}),
		refunds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cypaykit_refunds_total",
			Help: "Refund steps by result: requested, refused and error once per request; succeeded, failed and change once per refund; processing, notsure and uncertain once per gateway round that left it in flight.",
		}, []string{"result"}),
		refundedFen: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cypaykit_refunded_fen_total",
			Help: "Fen the gateway reported refunded (refunds recorded SUCCESS).",
		}),
		pendingErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cypaykit_pending_count_errors_total",
			Help: "Scrapes at which counting PENDING attempts failed.",
		}),
	}
	cs := []prometheus.Collector{m.notifications, m.notifyDuration, m.fulfilments, m.fulfilDuration,
		m.gatewayRequests, m.gatewayDuration, m.checks, m.passes, m.failedChecks, m.alerts,
		m.refunds, m.refundedFen}
	if cfg.Pending != nil {
		cs = append(cs, m.pendingErrors, &pendingCollector{
			counter: cfg.Pending, timeout: cfg.PendingTimeout, errors: m.pendingErrors,
			desc: prometheus.NewDesc("cypaykit_pending_attempts",
				"Payment attempts PENDING now, counted at scrape: notifications not yet received or queried.", nil, nil),
		})
	}
	for _, c := range cs {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	m.initialise()
	return m, nil
}

// initialise creates the series an alert rule watches at zero, so that
// increase() sees the first event.
func (m *Metrics) initialise() {
	for _, k := range obslabel.AlertKinds {
		m.alerts.WithLabelValues(string(k))
	}
	m.notifySeries = make(map[handler.Outcome]prometheus.Counter, len(obslabel.Outcomes))
	for _, o := range obslabel.Outcomes {
		m.notifySeries[o] = m.notifications.WithLabelValues(o.String(), string(handler.SourceNotify))
	}
	for _, r := range []string{"ok", "error"} {
		m.fulfilments.WithLabelValues(r)
	}
	for _, r := range refund.Results() {
		m.refunds.WithLabelValues(string(r))
	}
}

// Observe counts an Event and times a notification; use it as
// handler.SettlerConfig.Observe.
func (m *Metrics) Observe(e handler.Event) {
	m.notification(e.Outcome, e.Source).Inc()
	switch e.Source {
	case handler.SourceNotify:
		m.notifyDuration.Observe(e.Duration.Seconds())
	case handler.SourceQuery, handler.SourceRetry:
		m.checks.WithLabelValues(obslabel.Outcome(e.Outcome)).Inc()
	}
}

// notification is the series of cypaykit_notifications_total for an
// outcome and source, from the cache when both are known.
func (m *Metrics) notification(o handler.Outcome, source handler.Source) prometheus.Counter {
	if source == handler.SourceNotify {
		if c, ok := m.notifySeries[o]; ok {
			return c
		}
	}
	return m.notifications.WithLabelValues(obslabel.Outcome(o), obslabel.Source(source))
}

// Alert counts an Alert by kind; use it as handler.SettlerConfig.Alert.
func (m *Metrics) Alert(_ context.Context, a handler.Alert) {
	m.alerts.WithLabelValues(obslabel.AlertKind(a.Kind)).Inc()
}

// Trace times the fulfilment hook; use it as handler.SettlerConfig.Trace.
// Other stages cost a comparison: their durations come from Observe.
func (m *Metrics) Trace(ctx context.Context, st handler.Stage) (context.Context, func(error)) {
	if st != handler.StageFulfil {
		return ctx, endNothing
	}
	start := time.Now()
	return ctx, func(err error) {
		m.fulfilDuration.Observe(time.Since(start).Seconds())
		result := "ok"
		if err != nil {
			result = "error"
		}
		m.fulfilments.WithLabelValues(result).Inc()
	}
}

var endNothing = func(error) {}

// ObserveCall counts and times a gateway call; use it as
// client.Config.Observe.
func (m *Metrics) ObserveCall(e client.CallEvent) {
	op := obslabel.Op(e.Op)
	m.gatewayRequests.WithLabelValues(op, obslabel.Result(e.Result)).Inc()
	m.gatewayDuration.WithLabelValues(op).Observe(e.Duration.Seconds())
}

// ObservePass counts a reconciler pass; use it as
// handler.ReconcilerConfig.ObservePass.
func (m *Metrics) ObservePass(p handler.PassEvent) {
	m.passes.Inc()
	m.failedChecks.Add(float64(p.Failed))
}

// ObserveRefund counts a refund step and, when it succeeded, its amount;
// use it as refund.Config.Observe.
func (m *Metrics) ObserveRefund(e refund.Event) {
	m.refunds.WithLabelValues(obslabel.RefundResult(e.Result)).Inc()
	if e.Result == refund.Succeeded && e.Amount > 0 {
		m.refundedFen.Add(float64(e.Amount))
	}
}

// InstrumentRefunder sets cfg's Observe and Alert to m's (Alert counts
// refund_change in cypaykit_alerts_total), keeping (and calling first)
// any hooks already set.
func (m *Metrics) InstrumentRefunder(cfg *refund.Config) {
	cfg.Observe = hookchain.Then(cfg.Observe, m.ObserveRefund)
	cfg.Alert = hookchain.ThenCtx(cfg.Alert, m.Alert)
}

// InstrumentSettler sets cfg's Observe, Alert and Trace to m's, keeping
// (and calling first) any hooks already set.
func (m *Metrics) InstrumentSettler(cfg *handler.SettlerConfig) {
	cfg.Observe = hookchain.Then(cfg.Observe, m.Observe)
	cfg.Alert = hookchain.ThenCtx(cfg.Alert, m.Alert)
	cfg.Trace = hookchain.Trace(cfg.Trace, m.Trace)
}

// InstrumentClient sets cfg.Observe to m's, keeping any hook already set.
func (m *Metrics) InstrumentClient(cfg *client.Config) {
	cfg.Observe = hookchain.Then(cfg.Observe, m.ObserveCall)
}

// InstrumentReconciler sets cfg.ObservePass to m's, keeping any hook
// already set.
func (m *Metrics) InstrumentReconciler(cfg *handler.ReconcilerConfig) {
	cfg.ObservePass = hookchain.Then(cfg.ObservePass, m.ObservePass)
}

// pendingCollector counts PENDING attempts at scrape time.
type pendingCollector struct {
	counter store.PendingCounter
	timeout time.Duration
	errors  prometheus.Counter
	desc    *prometheus.Desc
}

func (c *pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	n, err := c.counter.CountPending(ctx)
	if err != nil {
		// A missing sample beats a wrong one; absent() can alert on it.
		c.errors.Inc()
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}
