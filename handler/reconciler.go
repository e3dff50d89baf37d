package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// ReconcilerConfig configures a Reconciler. Every field documents its zero
// value.
type ReconcilerConfig struct {
	// Settler settles what queries find paid; it must share Store with the
	// Notify handler. Required.
	Settler *Settler
	// Client queries and cancels orders at the gateway. Required.
	Client *client.Client
	// Clients adds clients for other protocol versions. Each attempt is
	// queried through the client whose Version is the attempt's (so with
	// the key that created it); attempts of a version no client speaks
	// are left alone. Nil means Client only.
	Clients []*client.Client
	// Store holds the orders. Nil means the Settler's store.
	Store store.OrderStore
	// FirstDelay is how old a PENDING attempt must be before its first
	// query. Zero means 5 s.
	FirstDelay time.Duration
	// Interval is the time between queries of a fresh attempt, and the
	// time between passes of Run. Zero means 5 s.
	Interval time.Duration
	// FastWindow is how long after creation an attempt is queried every
	// Interval; 60–180 s. Zero means 120 s.
	FastWindow time.Duration
	// TailInterval is the time between queries after FastWindow. Zero
	// means 5 min.
	TailInterval time.Duration
	// MaxAge is when an attempt the gateway still reports unpaid (or does
	// not know) is closed: cancelled at the gateway while its 5-minute
	// cancel window is open, else recorded CLOSED. An attempt whose query
	// keeps failing is never closed: its outcome is unknown. Zero means 24 h.
	MaxAge time.Duration
	// Concurrency bounds the orders handled at once. Zero means 4.
	Concurrency int
	// Batch bounds the orders listed per pass (and so the queries per
	// Interval). Zero means 500.
	Batch int
	// ObservePass receives one PassEvent at the end of every pass, for
	// counting. It must be fast and safe for concurrent use. Nil means none.
	ObservePass func(PassEvent)
	// Refunder, when set, also drives in-flight refunds on every pass
	// (Refunder.Poll), so one loop serves payments and refunds. Nil means
	// the host runs the Refunder itself (Refunder.Run), or no refunds.
	Refunder *Refunder
	// Logger receives this handler's structured logs. Nil means
	// slog.Default() as it is when the constructor runs: the kit's one
	// logger, shared by every handler left at nil (see the package doc).
	Logger *slog.Logger
	// Now is the clock. Nil means the Settler's clock.
	Now func() time.Time
}

// Reconciler settles what notifications miss (guarantee G7): it queries
// PENDING attempts on the gateway's schedule — first after FirstDelay,
// then every Interval until FastWindow, then every TailInterval until
// MaxAge, then closes them — and settles paid ones through the Settler,
// with the same checks as a notification. It also retries the fulfilment
// of PAID attempts whose hook has not succeeded. Several Reconcilers may
// run at once against one store: settling is a compare-and-set and the
// hook runs under the order's lease.
type Reconciler struct {
	settler                             *Settler
	clients                             map[model.Version]*client.Client
	store                               store.OrderStore
	first, interval, fast, tail, maxAge time.Duration
	conc, batch                         int
	refunder                            *Refunder
	log                                 *slog.Logger
	now                                 func() time.Time
	observePass                         func(PassEvent)

	mu      sync.Mutex
	nextDue map[string]time.Time // per out_trade_no; a hint, lost on restart
}

// cancelWindow is how long after creation the gateway accepts a cancel.
const cancelWindow = 5 * time.Minute

// NewReconciler validates cfg and returns a Reconciler.
func NewReconciler(cfg ReconcilerConfig) (*Reconciler, error) {
	if cfg.Settler == nil {
		return nil, errors.New("handler: ReconcilerConfig.Settler is required")
	}
	if cfg.Client == nil {
		return nil, errors.New("handler: ReconcilerConfig.Client is required")
	}
	r := &Reconciler{
		settler: cfg.Settler, store: cfg.Store,
		clients: map[model.Version]*client.Client{},
		first:   cfg.FirstDelay, interval: cfg.Interval, fast: cfg.FastWindow,
		tail: cfg.TailInterval, maxAge: cfg.MaxAge,
		conc: cfg.Concurrency, batch: cfg.Batch, refunder: cfg.Refunder, log: cfg.Logger, now: cfg.Now,
		nextDue: map[string]time.Time{}, observePass: cfg.ObservePass,
	}
	for _, c := range append(cfg.Clients, cfg.Client) {
		if c == nil {
			return nil, errors.New("handler: ReconcilerConfig.Clients holds a nil client")
		}
		r.clients[c.Version()] = c
	}
	if r.store == nil {
		r.store = cfg.Settler.store
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&r.first, 5*time.Second)
	def(&r.interval, 5*time.Second)
	def(&r.fast, 120*time.Second)
	def(&r.tail, 5*time.Minute)
	def(&r.maxAge, 24*time.Hour)
	if r.first < 0 || r.interval < 0 || r.tail < 0 || r.maxAge < 0 || r.conc < 0 || r.batch < 0 {
		return nil, errors.New("handler: ReconcilerConfig durations and bounds must not be negative")
	}
	if r.fast < 60*time.Second || r.fast > 180*time.Second {
		return nil, fmt.Errorf("handler: ReconcilerConfig.FastWindow %s outside 60s–180s", r.fast)
	}
	if r.maxAge < r.fast {
		return nil, errors.New("handler: ReconcilerConfig.MaxAge is shorter than FastWindow")
	}
	if r.conc == 0 {
		r.conc = 4
	}
	if r.batch == 0 {
		r.batch = 500
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.now == nil {
		r.now = cfg.Settler.now
	}
	return r, nil
}

// Run calls RunOnce every Interval until ctx ends, then returns nil. A
// failed pass is logged and the next one runs as planned.
func (r *Reconciler) Run(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		if err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.LogAttrs(ctx, slog.LevelError, "handler: reconcile pass failed", slog.String("err", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce makes one pass: it queries every PENDING attempt that is due
// (at most Batch), settles or closes what the answers say, and retries
// the fulfilment of PAID attempts not yet fulfilled. It returns the
// joined errors of the orders it could not handle.
func (r *Reconciler) RunOnce(ctx context.Context) (err error) {
	var pass PassEvent
	ctx, end := r.beginPass(ctx)
	defer func() { end(&pass, err) }()
	now := r.now()
	pending, err := r.store.ListPending(ctx, now.Add(-r.first), r.batch)
	if err != nil {
		return fmt.Errorf("handler: list pending: %w", err)
	}
	unfulfilled, err := r.store.ListUnfulfilled(ctx, r.batch)
	if err != nil {
		return fmt.Errorf("handler: list unfulfilled: %w", err)
	}
	pass.Pending, pass.Unfulfilled = len(pending), len(unfulfilled)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, r.conc)
	)
	run := func(f func() error) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	for _, o := range pending {
		if r.clients[o.Version] == nil || !r.due(o, now) {
			continue
		}
		pass.Checked++
		run(func() error { return r.reconcile(ctx, o, now) })
	}
	for _, o := range unfulfilled {
		run(func() error { return r.retryFulfil(ctx, o) })
	}
	wg.Wait()
	pass.Failed = len(errs)
	r.forget(pending)
	if r.refunder != nil {
		if _, err := r.refunder.Poll(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// due reports whether an attempt should be queried now, and schedules
// its next query.
func (r *Reconciler) due(o *store.Order, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if next, ok := r.nextDue[o.OutTradeNo]; ok && now.Before(next) && now.Sub(o.CreatedAt) <= r.maxAge {
		return false
	}
	step := r.interval
	if now.Sub(o.CreatedAt) >= r.fast {
		step = r.tail
	}
	r.nextDue[o.OutTradeNo] = now.Add(step)
	return true
}

// forget drops schedule entries of attempts no longer pending, so the map
// does not grow without bound. Only a full listing tells which those are.
func (r *Reconciler) forget(pending []*store.Order) {
	if len(pending) >= r.batch {
		return
	}
	keep := make(map[string]struct{}, len(pending))
	for _, o := range pending {
		keep[o.OutTradeNo] = struct{}{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.nextDue {
		if _, ok := keep[k]; !ok {
			delete(r.nextDue, k)
		}
	}
}

// reconcile queries one PENDING attempt and acts on the answer.
func (r *Reconciler) reconcile(ctx context.Context, o *store.Order, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, r.settler.ttl)
	defer cancel()
	resp, err := r.clients[o.Version].OrderQuery(ctx, &model.OrderQueryRequest{PayType: o.Channel, MchID: o.MchID, OutTradeNo: o.OutTradeNo})
	age := now.Sub(o.CreatedAt)
	switch {
	case errors.Is(err, client.ErrNotFound):
		// The pre-order has not reached the gateway, or never will. A
		// request still in flight could yet create it, so it is treated as
		// unpaid and closed only at MaxAge.
		if age > r.maxAge {
			return r.finish(ctx, o, "expired; not found at the gateway")
		}
		return nil
	case err != nil:
		// The outcome is unknown (gateway down, bad reply sign, keys
		// gone): never close on that, even past MaxAge, because the buyer
		// may have paid. It is asked again on the tail schedule.
		return fmt.Errorf("handler: query %s: %w", o.OutTradeNo, err)
	}
	switch resp.Outcome() {
	case model.OutcomePaid:
		paidAt, perr := model.ParseTime(resp.TimeEnd)
		if perr != nil {
			paidAt = r.settler.now()
		}
		// Query total_fee is the amount paid (实付) and base_fee the amount
		// due (应付); the order's amount is what is due, so base_fee is
		// compared, and total_fee only when an older gateway omits base_fee.
		amount := resp.BaseFee
		if amount == 0 {
			amount = resp.TotalFee
		}
		outcome, err := r.settler.settleTraced(ctx, o, proof{
			source: SourceQuery,
			mchID:  resp.MchID,
			amount: amount,
			payment: store.Payment{
				TransactionID:        resp.TransactionID,
				ChannelTransactionID: resp.OutTransactionID,
				PaidAt:               paidAt,
			},
		})
		r.settler.emit(Event{Outcome: outcome, OutTradeNo: o.OutTradeNo, Source: SourceQuery, Err: err})
		return err
	case model.OutcomeClosed:
		return r.finish(ctx, o, fmt.Sprintf("closed at the gateway: code %s", resp.Code))
	case model.OutcomeRefunded:
		_ = r.settler.raise(ctx, Alert{
			Source: SourceQuery, OutTradeNo: o.OutTradeNo, MchID: o.MchID, GotMchID: resp.MchID,
			WantAmount: o.Amount, GotAmount: resp.TotalFee, Status: string(o.Status),
			TransactionID: resp.TransactionID,
		}, AlertRefundedUnsettled)
		return r.finish(ctx, o, "refunded at the gateway before it was settled here")
	}
	if age > r.maxAge {
		return r.expire(ctx, o, now)
	}
	r.settler.emit(Event{Outcome: NotPaid, OutTradeNo: o.OutTradeNo, Source: SourceQuery})
	return nil
}

// expire closes an attempt that stayed unpaid past MaxAge: through the
// gateway while its cancel window is open, else only here.
func (r *Reconciler) expire(ctx context.Context, o *store.Order, now time.Time) error {
	reason := "expired unpaid"
	if now.Sub(o.CreatedAt) < cancelWindow {
		if _, err := r.clients[o.Version].Cancel(ctx, &model.CancelRequest{PayType: o.Channel, MchID: o.MchID, OutTradeNo: o.OutTradeNo}); err != nil {
			// It may have been paid meanwhile; ask again next pass.
			return fmt.Errorf("handler: cancel %s: %w", o.OutTradeNo, err)
		}
		reason = "expired unpaid; cancelled at the gateway"
	}
	return r.finish(ctx, o, reason)
}

// finish records a PENDING attempt CLOSED.
func (r *Reconciler) finish(ctx context.Context, o *store.Order, reason string) error {
	err := r.store.Finish(ctx, o.OutTradeNo, store.Closed, reason, r.now())
	if errors.Is(err, store.ErrConflict) {
		return nil // settled or closed meanwhile
	}
	if err != nil {
		r.settler.emit(Event{Outcome: StoreError, OutTradeNo: o.OutTradeNo, Source: SourceQuery, Err: err})
		return fmt.Errorf("handler: close %s: %w", o.OutTradeNo, err)
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "handler: attempt closed",
		slog.String("out_trade_no", o.OutTradeNo), slog.String("reason", reason))
	r.settler.emit(Event{Outcome: Closed, OutTradeNo: o.OutTradeNo, Source: SourceQuery})
	return nil
}

// retryFulfil runs the fulfilment of a PAID attempt whose hook has not
// succeeded yet.
func (r *Reconciler) retryFulfil(ctx context.Context, o *store.Order) error {
	ctx, cancel := context.WithTimeout(ctx, r.settler.ttl)
	defer cancel()
	outcome, err := r.settler.fulfil(ctx, o, SourceRetry)
	if outcome == Duplicate && err == nil {
		return nil // someone else fulfilled it meanwhile
	}
	r.settler.emit(Event{Outcome: outcome, OutTradeNo: o.OutTradeNo, Source: SourceRetry, Err: err})
	return err
}
