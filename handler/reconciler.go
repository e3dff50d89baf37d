package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// the key that created it); an attempt of a version no client speaks
	// is put back on its schedule unqueried.
	Clients []*client.Client
	// Store holds the orders. Nil means the Settler's store.
	Store store.OrderStore
	// Scheduler is the schedule and the claims every instance shares
	// (guarantees G11, G12). Nil means Store, or the Settler's store, if it
	// implements store.Scheduler; NewReconciler refuses a store that does
	// not, because a schedule kept in one process's memory is wrong on two.
	Scheduler store.Scheduler
	// FirstDelay is how old a PENDING attempt must be before its first
	// query: the gateway's 5 s. Zero means 5 s.
	FirstDelay time.Duration
	// Interval is the time between queries of an attempt in its fast
	// window, and the time between passes of Run. Zero means 5 s.
	Interval time.Duration
	// FastWindow is how long after creation an attempt is queried every
	// Interval; 60–180 s. Zero means 120 s. Attempts inside it are claimed
	// before any older one, so a backlog never delays them.
	FastWindow time.Duration
	// TailSteps are the widening gaps between queries after FastWindow;
	// the last one repeats until the attempt's expiry (then one closing
	// query a minute later), or MaxAge for one recorded without an expiry.
	// For an attempt with an expiry each step is capped at 15 min less
	// Interval, so a payment whose notifications are all lost is settled
	// within 15 minutes. Nil means DefaultTailSteps(). Each must be at least
	// Interval.
	TailSteps []time.Duration
	// MaxAge is when an attempt recorded without an expiry (store.Order.
	// ExpiresAt zero: before the store kept one) that the gateway still
	// reports unpaid (or does not know) is closed: cancelled at the gateway while its 5-minute
	// cancel window is open, else recorded CLOSED. An attempt whose query
	// keeps failing is never closed: its outcome is unknown. Zero means 24 h.
	MaxAge time.Duration
	// Concurrency bounds the attempts handled at once by this instance, and
	// is how many it claims at a time. Zero means 4.
	Concurrency int
	// Batch bounds the attempts one pass handles. Zero means 500.
	Batch int
	// ClaimTTL is the lease on claimed attempts: an instance that dies
	// holding them delays their check by at most this long. It must exceed
	// the Settler's LockTTL, which bounds the work on one attempt. Zero
	// means twice the LockTTL.
	ClaimTTL time.Duration
	// Limiter paces this instance's calls to the gateway (queries and
	// cancels): each waits for it first. Nil means no cap. A
	// *rate.Limiter from golang.org/x/time/rate fits as it is. When a wait
	// fails (it would outlast the attempt's deadline), the pass gives the
	// attempt back and ends; the next pass goes on.
	Limiter Limiter
	// MerchantLimiter returns the limiter of one merchant (mch_id), waited
	// for after Limiter, for gateways that cap each merchant. Nil, or a nil
	// result, means no per-merchant cap.
	MerchantLimiter func(mchID string) Limiter
	// ObservePass receives one PassEvent at the end of every pass, for
	// counting. It must be fast and safe for concurrent use. Nil means none.
	ObservePass func(PassEvent)
	// Refunder, when set, also drives in-flight refunds on every pass
	// (its Poll; a *refund.Refunder), so one loop serves payments and
	// refunds. Nil means the host runs the refunder itself
	// (refund.Refunder.Run), or no refunds.
	Refunder Poller
	// Logger receives this handler's structured logs. Nil means
	// slog.Default() as it is when the constructor runs: the kit's one
	// logger, shared by every handler left at nil (see the package doc).
	Logger *slog.Logger
	// HistoryRetention is how long the Settler's Inbox and Events keep
	// what they record: every pass deletes up to HistoryBatch of the older
	// rows from each, and writes the copy counts the duplicate memo
	// gathered. Zero means DefaultHistoryRetention (30 days); negative
	// keeps everything.
	HistoryRetention time.Duration
	// HistoryBatch bounds the rows one pass deletes from each of the inbox
	// and the history, so that a backlog of old rows is worked off over
	// several passes instead of holding one. Zero means 1000.
	HistoryBatch int
	// Now is the clock. Nil means the Settler's clock.
	Now func() time.Time
}

// Limiter paces calls to the gateway. Wait blocks until one call may go,
// or returns an error when ctx ends first (or would end first). It is
// satisfied by *rate.Limiter from golang.org/x/time/rate, so the core needs
// no dependency for it.
type Limiter interface {
	// Wait blocks until one more gateway call is allowed, or returns an
	// error when ctx ends first or the wait could not finish in time.
	Wait(ctx context.Context) error
}

// DefaultTailSteps returns the gaps between queries after the fast
// window, a fresh slice on each call.
// With the other defaults an abandoned attempt with the default 2-hour
// expiry is queried 34 times (24 in the fast window, 9 in the tail, whose
// steps are capped at 14 min 55 s, and 1 closing query a minute after
// expiry); one recorded without an expiry, 36 times in its 24 hours (24,
// 11 and 1 at MaxAge), against 312 for a query every 5 minutes.
func DefaultTailSteps() []time.Duration {
	return []time.Duration{
		time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 4 * time.Hour,
	}
}

// Reconciler settles what notifications miss (guarantee G7): it queries
// PENDING attempts on the gateway's schedule — first after FirstDelay,
// then every Interval until FastWindow, then at widening TailSteps of at
// most 15 minutes until the attempt's expiry, then once more a minute
// after it, and closes it (an attempt recorded without an expiry: until
// MaxAge) — and settles paid ones through the Settler,
// with the same checks as a notification. It also retries the fulfilment
// of PAID attempts whose hook has not succeeded.
//
// The schedule lives in the store (store.Scheduler): each pass claims the
// attempts that are due, under a lease, so any number of Reconcilers on
// one store share the work and each due check runs once (guarantee G12).
type Reconciler struct {
	settler                       *Settler
	clients                       map[model.Version]*client.Client
	store                         store.OrderStore
	sched                         store.Scheduler
	first, interval, fast, maxAge time.Duration
	tail                          []time.Duration
	claimTTL                      time.Duration
	conc, batch                   int
	retention                     time.Duration // below 0: keep everything
	historyBatch                  int
	limiter                       Limiter
	perMerchant                   func(string) Limiter
	refunder                      Poller
	observePass                   func(PassEvent)
	log                           *slog.Logger
	now                           func() time.Time
	// lastPass is when the latest pass that reached the store ended, in
	// Unix nanoseconds by now; zero before the first. health reads it.
	lastPass atomic.Int64
	unsigned ReplyStreak
}

// cancelWindow is how long after creation the gateway accepts a cancel.
const cancelWindow = 5 * time.Minute

// firstQuery is the gateway's delay before an attempt's first query; the
// pre-order handler schedules new attempts with it.
const firstQuery = 5 * time.Second

// NewReconciler validates cfg and returns a Reconciler.
func NewReconciler(cfg ReconcilerConfig) (*Reconciler, error) {
	if cfg.Settler == nil {
		return nil, errors.New("handler: ReconcilerConfig.Settler is required")
	}
	if cfg.Client == nil {
		return nil, errors.New("handler: ReconcilerConfig.Client is required")
	}
	r := &Reconciler{
		settler: cfg.Settler, store: cfg.Store, sched: cfg.Scheduler,
		clients: map[model.Version]*client.Client{},
		first:   cfg.FirstDelay, interval: cfg.Interval, fast: cfg.FastWindow,
		tail: append([]time.Duration(nil), cfg.TailSteps...), maxAge: cfg.MaxAge, claimTTL: cfg.ClaimTTL,
		conc: cfg.Concurrency, batch: cfg.Batch, log: cfg.Logger, now: cfg.Now,
		refunder: cfg.Refunder, observePass: cfg.ObservePass,
		limiter: cfg.Limiter, perMerchant: cfg.MerchantLimiter,
		retention: cfg.HistoryRetention, historyBatch: cfg.HistoryBatch,
	}
	if isNil(r.refunder) {
		r.refunder = nil
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
	if r.sched == nil {
		s, ok := r.store.(store.Scheduler)
		if !ok {
			return nil, errors.New("handler: ReconcilerConfig.Store does not implement store.Scheduler: set ReconcilerConfig.Scheduler")
		}
		r.sched = s
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&r.first, firstQuery)
	def(&r.interval, 5*time.Second)
	def(&r.fast, 120*time.Second)
	def(&r.maxAge, 24*time.Hour)
	def(&r.claimTTL, 2*cfg.Settler.ttl)
	if len(r.tail) == 0 {
		r.tail = DefaultTailSteps()
	}
	if r.first < 0 || r.interval < 0 || r.maxAge < 0 || r.claimTTL < 0 || r.conc < 0 || r.batch < 0 {
		return nil, errors.New("handler: ReconcilerConfig durations and bounds must not be negative")
	}
	for _, d := range r.tail {
		if d < r.interval {
			return nil, fmt.Errorf("handler: ReconcilerConfig.TailSteps holds %s, shorter than Interval", d)
		}
	}
	if r.fast < 60*time.Second || r.fast > 180*time.Second {
		return nil, fmt.Errorf("handler: ReconcilerConfig.FastWindow %s outside 60s–180s", r.fast)
	}
	if r.first >= r.fast {
		return nil, errors.New("handler: ReconcilerConfig.FirstDelay is not shorter than FastWindow")
	}
	if r.maxAge < r.fast {
		return nil, errors.New("handler: ReconcilerConfig.MaxAge is shorter than FastWindow")
	}
	if r.claimTTL <= cfg.Settler.ttl {
		return nil, fmt.Errorf("handler: ReconcilerConfig.ClaimTTL %s must exceed the Settler's LockTTL %s", r.claimTTL, cfg.Settler.ttl)
	}
	if r.conc == 0 {
		r.conc = 4
	}
	if r.batch == 0 {
		r.batch = 500
	}
	def(&r.retention, DefaultHistoryRetention)
	if r.historyBatch < 0 {
		return nil, errors.New("handler: ReconcilerConfig.HistoryBatch must not be negative")
	}
	if r.historyBatch == 0 {
		r.historyBatch = 1000
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

// RunOnce makes one pass: it claims due work Concurrency items at a time
// — attempts in their fast window first, then fulfilment retries, then the
// tail, most overdue first within each — and handles it, until nothing is
// due, Batch items were handled, or the rate limiter refuses. It returns
// the joined errors of the items it could not handle.
func (r *Reconciler) RunOnce(ctx context.Context) (err error) {
	var pass PassEvent
	ctx, end := r.beginPass(ctx)
	defer func() { end(&pass, err) }()
	var errs []error
	reached := true
	for done := 0; done < r.batch; {
		claims, err := r.claimNext(ctx, min(r.conc, r.batch-done))
		if err != nil {
			errs = append(errs, err)
			reached = false
			break
		}
		if len(claims) == 0 {
			break
		}
		done += len(claims)
		for _, c := range claims {
			if c.Kind == store.KindFulfil {
				pass.Unfulfilled++
			} else {
				pass.Checked++
			}
		}
		chunkErrs, stop := r.handleAll(ctx, claims)
		pass.Failed += len(chunkErrs)
		errs = append(errs, chunkErrs...)
		if stop || ctx.Err() != nil {
			break
		}
	}
	pass.Pending = pass.Checked
	if r.refunder != nil && ctx.Err() == nil {
		if _, err := r.refunder.Poll(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if h := r.settler.hist; h != nil && ctx.Err() == nil {
		// Evidence, not state: its failures are logged and counted by
		// the recorder, never the pass's.
		h.flushCopies(ctx)
		if r.retention > 0 {
			h.prune(ctx, r.now().Add(-r.retention), r.historyBatch)
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
		reached = false
	}
	if reached {
		// A pass that could claim its work counts as a pass even when a
		// gateway call failed: the gateway's outage is no reason to take
		// this instance out of service, the store's is.
		r.lastPass.Store(r.now().UnixNano())
	}
	return errors.Join(errs...)
}

// LastPass reports when the latest pass that could claim its work from
// the store ended, by the Reconciler's clock, and false before the first.
// The readiness probe of package health reads it to tell a stopped
// reconciler.
func (r *Reconciler) LastPass() (time.Time, bool) {
	n := r.lastPass.Load()
	if n == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// claimNext claims up to limit items: fresh queries, else fulfilment
// retries, else tail queries.
func (r *Reconciler) claimNext(ctx context.Context, limit int) ([]store.Claim, error) {
	now := r.now()
	for _, req := range []store.ClaimRequest{
		{Kind: store.KindQuery, CreatedAfter: now.Add(-r.fast)},
		{Kind: store.KindFulfil},
		{Kind: store.KindQuery},
	} {
		req.Now, req.Lease, req.Limit = now, r.claimTTL, limit
		claims, err := r.sched.Claim(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("handler: claim %s: %w", req.Kind, err)
		}
		if len(claims) > 0 {
			return claims, nil
		}
	}
	return nil, nil
}

// handleAll handles claims concurrently and reschedules each. stop says
// the rate limiter refused, so the pass should end.
func (r *Reconciler) handleAll(ctx context.Context, claims []store.Claim) (errs []error, stop bool) {
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		stopped bool
	)
	for _, c := range claims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next, refused, err := r.handle(ctx, c)
			if err != nil && ctx.Err() != nil {
				// Cut short by the instance stopping: the check did not
				// happen, so the attempt stays due for another instance.
				next = c.Due
			}
			if rerr := r.reschedule(ctx, c, next); rerr != nil {
				err = errors.Join(err, rerr)
			}
			mu.Lock()
			defer mu.Unlock()
			stopped = stopped || refused
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return errs, stopped
}

// reschedule ends a claim with the item's next due time. A claim lost to
// another instance (this one stalled past ClaimTTL) is not an error: the
// other instance's schedule stands.
func (r *Reconciler) reschedule(ctx context.Context, c store.Claim, next time.Time) error {
	// Written even when ctx has ended, so a stopping instance hands its
	// claims back rather than leaving them to expire. It is worth trying
	// for as long as the claim may still hold: a slow database (a
	// connection storm, a loaded host) should delay the write, not lose it
	// to a shorter bound and leave the item waiting for its claim to lapse.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.claimTTL)
	defer cancel()
	err := r.sched.Reschedule(rctx, c, next)
	switch {
	case errors.Is(err, store.ErrNotHeld):
		r.log.LogAttrs(ctx, slog.LevelWarn, "handler: claim lost to another instance",
			slog.String("key", c.Key), slog.String("kind", string(c.Kind)))
		return nil
	case err != nil:
		return fmt.Errorf("handler: reschedule %s: %w", c.Key, err)
	}
	return nil
}

// handle works on one claim and returns when it is next due. refused
// reports that the rate limiter refused, and the item was left as due.
func (r *Reconciler) handle(ctx context.Context, c store.Claim) (next time.Time, refused bool, err error) {
	o, now := c.Order, r.now()
	if o == nil {
		// A Scheduler for order kinds hands the attempt out with the
		// claim; read it if this one did not.
		if o, err = r.store.Get(ctx, c.Key); err != nil {
			return c.Due, false, fmt.Errorf("handler: read claimed %s: %w", c.Key, err)
		}
	}
	if c.Kind == store.KindFulfil {
		// Retry on the same widening schedule, counted from the settle.
		return o.UpdatedAt.Add(r.nextAt(now.Sub(o.UpdatedAt), 0)), false, r.retryFulfil(ctx, o)
	}
	age := now.Sub(o.CreatedAt)
	next = o.CreatedAt.Add(r.nextAt(age, lifeOf(o)))
	if age < r.first {
		return o.CreatedAt.Add(r.first), false, nil
	}
	cl := r.clients[o.Version]
	if cl == nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "handler: no client for the attempt's protocol version",
			slog.String("out_trade_no", o.OutTradeNo), slog.String("version", string(o.Version)))
		return next, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.settler.ttl)
	defer cancel()
	if err := r.wait(ctx, o.MchID); err != nil {
		return c.Due, true, nil
	}
	paid, err := r.reconcile(ctx, cl, o, now)
	if paid {
		// Fulfilment work now (or a settle to retry): soon.
		next = now.Add(r.interval)
	}
	return next, false, err
}

// wait waits for the gateway rate limiters.
func (r *Reconciler) wait(ctx context.Context, mchID string) error {
	if r.limiter != nil {
		if err := r.limiter.Wait(ctx); err != nil {
			return err
		}
	}
	if r.perMerchant != nil {
		if l := r.perMerchant(mchID); l != nil {
			return l.Wait(ctx)
		}
	}
	return nil
}

// settleWithin bounds, for an attempt with an expiry, the time from a
// payment to the query that finds it when every notification is lost: its
// tail steps are at most settleWithin less Interval (a due query waits up
// to one Interval for its pass). It is well inside the 3 h 07 m after
// which the gateway stops notifying, so no payment waits on luck.
const settleWithin = 15 * time.Minute

// closeGrace is how long after its expiry an attempt gets its closing
// query: the gateway's clock may run a little behind ours, and a payment
// it accepted in its last second must be visible when the attempt is
// recorded CLOSED.
const closeGrace = time.Minute

// lifeOf returns how long after its creation attempt o expires (its
// closing query comes closeGrace later), and 0 for an attempt recorded
// without an expiry, which is watched until MaxAge.
func lifeOf(o *store.Order) time.Duration {
	if o.ExpiresAt.IsZero() {
		return 0
	}
	return max(o.ExpiresAt.Sub(o.CreatedAt), time.Nanosecond)
}

// ended says the watch of attempt o is over at now: it is past its expiry
// and closeGrace, or, recorded without an expiry, past MaxAge. A query
// that finds it still unpaid then closes it.
func (r *Reconciler) ended(o *store.Order, now time.Time) bool {
	if o.ExpiresAt.IsZero() {
		return now.Sub(o.CreatedAt) >= r.maxAge
	}
	return !now.Before(o.ExpiresAt.Add(closeGrace))
}

// nextAt returns the age at which an attempt queried at age is next due:
// the next point of the grid FirstDelay, +Interval … FastWindow, then
// +TailSteps (the last repeating), up to the attempt's last point. Points
// are counted from creation, not from the last query, so a pass that runs
// a little late does not push every later query back.
//
// life is how long the attempt lives (lifeOf). With one, no tail step
// exceeds settleWithin less Interval, and the last point is life plus
// closeGrace: the one closing query, which may fall inside the fast
// window for a short life. With none (0), the last point is MaxAge. Past
// the last point (only an attempt whose queries fail stays open so long)
// the last step repeats.
func (r *Reconciler) nextAt(age, life time.Duration) time.Duration {
	end, longest := r.maxAge, time.Duration(1<<63-1)
	if life > 0 {
		end, longest = life+closeGrace, max(settleWithin-r.interval, r.interval)
	}
	step := func(i int) time.Duration { return min(r.tail[min(i, len(r.tail)-1)], longest) }
	if age >= end {
		return age + step(len(r.tail)-1)
	}
	if age < r.first {
		return min(r.first, end)
	}
	if age < r.fast {
		n := (age-r.first)/r.interval + 1
		return min(r.first+n*r.interval, r.fast, end)
	}
	t := r.fast
	for i := 0; t <= age; i++ {
		t += step(i)
	}
	return min(t, end)
}

// reconcile queries one PENDING attempt and acts on the answer. paid
// reports that the gateway says it is paid: whatever became of settling
// and fulfilling it here, it is worth another look soon.
func (r *Reconciler) reconcile(ctx context.Context, cl *client.Client, o *store.Order, now time.Time) (paid bool, err error) {
	resp, err := cl.OrderQuery(ctx, &model.OrderQueryRequest{PayType: o.Channel, MchID: o.MchID, OutTradeNo: o.OutTradeNo})
	r.noteReply(ctx, o, err)
	// noted writes the answer and what became of it into the history,
	// before the closing it may lead to, so the history reads in order.
	noted := func(decided Outcome) {
		if r.settler.hist != nil {
			r.recordQuery(ctx, o, resp, err, decided)
		}
	}
	switch {
	case err != nil:
		noted(0)
	}
	switch {
	case errors.Is(err, client.ErrNotFound):
		// 20007 is an error reply, and the gateway never signs those
		// (guarantee G14), so it proves nothing. An attempt whose checkout
		// (code_url, pay_info) came in a signed pre-order reply is known
		// to the gateway and in the buyer's hands: "not found" about it is
		// someone else's answer, and it is never closed on it.
		if o.CodeURL != "" || o.PayInfo != "" {
			return false, fmt.Errorf("handler: query %s: the gateway made its checkout, yet: %w", o.OutTradeNo, err)
		}
		// Without a checkout the pre-order has not reached the gateway, or
		// its reply never reached the buyer: nothing can be paid with it. A
		// request still in flight could yet create it, so it is treated as
		// unpaid and closed only when its watch ends (expiry or MaxAge).
		if r.ended(o, now) {
			return false, r.finish(ctx, o, "expired; not found at the gateway")
		}
		return false, nil
	case err != nil:
		// The outcome is unknown (gateway down, a reply unsigned, badly
		// signed or re-cut — guarantee G14 —, keys gone): never close on
		// that, even past MaxAge, because the buyer may have paid. It is
		// asked again on the schedule.
		return false, fmt.Errorf("handler: query %s: %w", o.OutTradeNo, err)
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
		// The same facts the notification path records (moneyFacts), from
		// the fields the client kept (model.CheckFacts).
		money, why := moneyFacts(amount, signedFacts{trusted: !resp.FactsDropped, couponFee: resp.CouponFee,
			feeType: resp.FeeType, bankType: resp.BankType, subAppID: resp.SubAppID,
			wxMchID: resp.WxMchID, wxSubMchID: resp.WxSubMchID})
		logUnrecorded(ctx, r.settler.log, SourceQuery, o.OutTradeNo, why)
		outcome, err := r.settler.settle(ctx, o, proof{
			source: SourceQuery,
			mchID:  resp.MchID,
			amount: amount,
			payment: store.Payment{
				TransactionID:        resp.TransactionID,
				ChannelTransactionID: resp.OutTransactionID,
				PaidAt:               paidAt,
				Money:                money,
			},
		})
		r.settler.emit(Event{Outcome: outcome, OutTradeNo: o.OutTradeNo, Source: SourceQuery, Err: err})
		noted(outcome)
		return true, err
	case model.OutcomeClosed:
		noted(Closed)
		if c, ok := r.store.(store.Closer); ok && resp.Code == model.CodeCancelled && resp.TransactionID != "" {
			// Cancelled after it was paid (a close whose cancel reply was
			// lost): the payment went back to the buyer.
			if err := c.Reverse(ctx, o.OutTradeNo, reasonReversed, r.now()); err != nil && !errors.Is(err, store.ErrConflict) {
				return false, fmt.Errorf("handler: record the reversal of %s: %w", o.OutTradeNo, err)
			}
			r.settler.emit(Event{Outcome: Closed, OutTradeNo: o.OutTradeNo, Source: SourceQuery})
			return false, nil
		}
		return false, r.finish(ctx, o, fmt.Sprintf("closed at the gateway: code %s", resp.Code))
	case model.OutcomeRefunded:
		noted(Mismatch)
		_ = r.settler.raise(ctx, Alert{
			Source: SourceQuery, OutTradeNo: o.OutTradeNo, MchID: o.MchID, GotMchID: resp.MchID,
			WantAmount: o.Amount, GotAmount: resp.TotalFee, Status: string(o.Status),
			TransactionID: resp.TransactionID,
		}, AlertRefundedUnsettled)
		return false, r.finish(ctx, o, "refunded at the gateway before it was settled here")
	}
	noted(NotPaid)
	if r.ended(o, now) {
		return false, r.expire(ctx, cl, o, now)
	}
	r.settler.emit(Event{Outcome: NotPaid, OutTradeNo: o.OutTradeNo, Source: SourceQuery})
	return false, nil
}

// recordQuery writes what the gateway answered a query of o into the
// attempt's history, and what became of it (decided: settled, duplicate,
// not_paid, closed, ...): its trade_state and total_fee when it answered
// with a verified reply, else why it did not.
func (r *Reconciler) recordQuery(ctx context.Context, o *store.Order, resp *model.OrderQueryResponse, err error, decided Outcome) {
	e := store.Event{OutTradeNo: o.OutTradeNo, At: r.now(), Kind: store.EventQueried, Source: string(SourceQuery), Outcome: "no_answer"}
	if decided != 0 {
		e.Outcome = decided.String()
	}
	switch {
	case err != nil:
		e.Detail = err.Error()
	case resp != nil:
		e.Amount = resp.TotalFee
		e.Detail = fmt.Sprintf("trade_state=%s transaction_id=%s", resp.TradeState, resp.TransactionID)
	}
	r.settler.hist.record(ctx, e)
}

// expire closes an attempt that stayed unpaid to the end of its watch. One
// with an expiry is past its time_expire, which the gateway enforces, so
// it is only recorded here: a cancel would add nothing but the risk of
// reversing a payment. One without is past MaxAge: closed through the
// gateway while its cancel window is open, else only here.
func (r *Reconciler) expire(ctx context.Context, cl *client.Client, o *store.Order, now time.Time) error {
	reason := "expired unpaid"
	if !o.ExpiresAt.IsZero() {
		return r.finish(ctx, o, "expired unpaid at its time_expire")
	}
	if now.Sub(o.CreatedAt) < cancelWindow {
		if err := r.wait(ctx, o.MchID); err != nil {
			return fmt.Errorf("handler: cancel %s: rate limit: %w", o.OutTradeNo, err)
		}
		_, err := cl.Cancel(ctx, &model.CancelRequest{PayType: o.Channel, MchID: o.MchID, OutTradeNo: o.OutTradeNo})
		r.noteReply(ctx, o, err)
		if err != nil {
			// Not cancelled as far as anything signed says: it may have
			// been paid meanwhile, so it is not CLOSED; ask again next
			// pass.
			return fmt.Errorf("handler: cancel %s: %w", o.OutTradeNo, err)
		}
		reason = "expired unpaid; cancelled at the gateway"
	}
	return r.finish(ctx, o, reason)
}

// noteReply counts an unverifiable reply about o towards
// AlertUnsignedReply.
func (r *Reconciler) noteReply(ctx context.Context, o *store.Order, err error) {
	r.unsigned.Note(ctx, r.log, r.settler.alert,
		Alert{Source: SourceQuery, OutTradeNo: o.OutTradeNo, BusinessID: o.BusinessID, MchID: o.MchID, Status: string(o.Status)}, err)
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
	r.settler.hist.record(ctx, store.Event{OutTradeNo: o.OutTradeNo, At: r.now(), Kind: store.EventClosed,
		Source: string(SourceQuery), Outcome: Closed.String(), Amount: o.Amount, Detail: reason})
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
	e := store.Event{OutTradeNo: o.OutTradeNo, At: r.now(), Kind: store.EventFulfilled,
		Source: string(SourceRetry), Outcome: outcome.String(), Amount: o.Amount}
	if err != nil {
		e.Detail = err.Error()
	}
	r.settler.hist.record(ctx, e)
	r.settler.emit(Event{Outcome: outcome, OutTradeNo: o.OutTradeNo, Source: SourceRetry, Err: err})
	return err
}

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
