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

// Refund errors, wrapped with a message for people; the host maps them to
// answers (the example shop: 404, 409, 422).
var (
	// ErrRefundAmount: the amount is not positive or exceeds what is left
	// to refund of the attempt (its amount minus every refund that has not
	// definitively failed, in-flight ones included).
	ErrRefundAmount = errors.New("handler: refund amount out of range")
	// ErrNotRefundable: the attempt (or business order) has no PAID
	// attempt to refund: unpaid, closed or fully refunded.
	ErrNotRefundable = errors.New("handler: order not refundable")
	// ErrRefundKeyReused: the idempotency key already names a refund of
	// another order or amount.
	ErrRefundKeyReused = errors.New("handler: idempotency key reused")
	// ErrRefundNotFound: no refund has that out_refund_no.
	ErrRefundNotFound = errors.New("handler: refund not found")
	// ErrRefundInvalid: a field of the request is malformed (an
	// out_trade_no of the wrong shape, a reason with a control character
	// or too long); the message names the field (400).
	ErrRefundInvalid = errors.New("handler: refund request invalid")
)

// checkRefundRequest refuses, before any store sees them, fields a store
// would keep differently or fail on (PostgreSQL errors on a NUL that
// MariaDB stores), so that every store answers alike.
func checkRefundRequest(req RefundRequest) error {
	if req.OutTradeNo != "" && !validOutTradeNo(req.OutTradeNo) {
		return fmt.Errorf("%w: out_trade_no must be 5-32 letters and digits", ErrRefundInvalid)
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"order_id", req.BusinessID, 128},
		{"reason", req.Reason, model.MaxText},
		{"idempotency key", req.IdempotencyKey, 128},
	} {
		if err := model.CheckText(f.name, f.value, f.max); err != nil {
			return fmt.Errorf("%w: %w", ErrRefundInvalid, err)
		}
	}
	return nil
}

// DefaultRefundSchedule is when in-flight refunds are queried, counted
// from the refund's creation: after 1 minute, then 5, 10, 20 and 30
// minutes later, then every 30 minutes until the gateway's answer is
// final.
var DefaultRefundSchedule = []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute}

// RefunderConfig configures a Refunder. Every field documents its zero
// value.
type RefunderConfig struct {
	// Store holds the orders. Required.
	Store store.OrderStore
	// Refunds holds the refunds, over the same data as Store. Nil means
	// Store, which must then implement store.RefundStore.
	Refunds store.RefundStore
	// Client refunds and queries refunds at the gateway. Required.
	Client *client.Client
	// Clients adds clients for other protocol versions; each refund goes
	// through the client of its attempt's version. Nil means Client only.
	Clients []*client.Client
	// OpUserID is the op_user_id sent with refunds. Empty means the
	// merchant id (the client's default).
	OpUserID string
	// Schedule is when in-flight refunds are queried, as delays between
	// queries counted from the refund's creation; the last repeats. Nil
	// means DefaultRefundSchedule.
	Schedule []time.Duration
	// Lease is how long one worker holds a refund it is driving; another
	// worker takes it over only after that. It must outlast a few gateway
	// calls. Zero means 2 min.
	Lease time.Duration
	// Batch bounds the refunds one Poll claims. Zero means 100.
	Batch int
	// Alert is called when the gateway answers CHANGE: the money went
	// back to the merchant's account and a person must pay the buyer
	// another way. Nil means an error-level log line only; the log line
	// is written either way.
	Alert func(ctx context.Context, a Alert)
	// Observe is called for each step of a refund (see RefundResult):
	// requested, refused, and each state recorded after a gateway round.
	// It must be fast and safe for concurrent use. Nil costs nothing.
	// observe/kitprom and observe/kitotel count these.
	Observe func(RefundEvent)
	// Trace starts a StageRefund around each gateway round of a refund
	// (a Refund call or a Poll of it), so the gateway calls made in it
	// are its children. Nil costs nothing.
	Trace Trace
	// Events records each step Observe sees in the attempt's history
	// (store.EventRefundRequested, store.EventRefundAnswered). A failed
	// write is logged and changes nothing. Nil means none.
	Events store.EventStore
	// Logger receives structured logs. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Refunder gives money back, at most once per out_refund_no and never more
// than was paid. Every refund is reserved in the store (one atomic step
// that refuses amounts over what is left) and recorded before the gateway
// is called. An uncertain answer never leads to a new number: the refund
// is queried by its out_refund_no and re-sent with the same number and
// amount; only a definitive failure releases the reservation. In-flight
// refunds are queried on Schedule by Poll (or Run) until final; workers
// on several instances share them through the store's claims, and a
// worker whose claim lapsed cannot overwrite the one that took it over.
// A Refunder is safe for concurrent use.
type Refunder struct {
	orders   store.OrderStore
	refunds  store.RefundStore
	clients  map[model.Version]*client.Client
	opUser   string
	schedule []time.Duration
	lease    time.Duration
	batch    int
	alert    func(ctx context.Context, a Alert)
	obs      func(RefundEvent)
	hist     *recorder // nil: no history
	trace    Trace
	log      *slog.Logger
	now      func() time.Time
	unsigned unsignedStreak // replies that did not verify, in a row
}

// NewRefunder validates cfg and returns a Refunder.
func NewRefunder(cfg RefunderConfig) (*Refunder, error) {
	if cfg.Store == nil {
		return nil, errors.New("handler: RefunderConfig.Store is required")
	}
	if cfg.Client == nil {
		return nil, errors.New("handler: RefunderConfig.Client is required")
	}
	r := &Refunder{
		orders: cfg.Store, refunds: cfg.Refunds, clients: map[model.Version]*client.Client{},
		opUser: cfg.OpUserID, schedule: cfg.Schedule, lease: cfg.Lease, batch: cfg.Batch,
		alert: cfg.Alert, obs: cfg.Observe, trace: cfg.Trace, log: cfg.Logger, now: cfg.Now,
	}
	if r.refunds == nil {
		rs, ok := cfg.Store.(store.RefundStore)
		if !ok {
			return nil, errors.New("handler: RefunderConfig.Refunds is required when Store is no store.RefundStore")
		}
		r.refunds = rs
	}
	for _, c := range append(cfg.Clients, cfg.Client) {
		if c == nil {
			return nil, errors.New("handler: RefunderConfig.Clients holds a nil client")
		}
		r.clients[c.Version()] = c
	}
	if r.schedule == nil {
		r.schedule = DefaultRefundSchedule
	}
	for _, d := range r.schedule {
		if d <= 0 {
			return nil, errors.New("handler: RefunderConfig.Schedule holds a delay that is not positive")
		}
	}
	if len(r.schedule) == 0 {
		return nil, errors.New("handler: RefunderConfig.Schedule is empty")
	}
	if r.lease < 0 || r.batch < 0 {
		return nil, errors.New("handler: RefunderConfig.Lease and Batch must not be negative")
	}
	if r.lease == 0 {
		r.lease = 2 * time.Minute
	}
	if r.batch == 0 {
		r.batch = 100
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.hist = newRecorder(nil, cfg.Events, "", r.log, nil)
	return r, nil
}

// RefundRequest asks for a refund of one paid attempt.
type RefundRequest struct {
	// OutTradeNo is the attempt to refund. Empty means the PAID attempt
	// of BusinessID.
	OutTradeNo string
	// BusinessID is the host's order id, used when OutTradeNo is empty.
	BusinessID string
	// Amount is the refund in fen; > 0 and at most what is left.
	Amount int64
	// Reason is a note for people; it is not sent to the gateway. At most
	// model.MaxText bytes of UTF-8 without control characters.
	Reason string
	// AfterClose refunds a payment the gateway reported for an attempt
	// already FAILED or CLOSED here (AlertPaidAfterClose), which is not
	// PAID and so otherwise not refundable. Set it only on such an alert;
	// the gateway refuses to refund what was not paid.
	AfterClose bool
	// IdempotencyKey, when not empty, makes a repeated request (a retried
	// click, a replayed HTTP call) return the first refund instead of
	// refunding again. The same key with another order or amount is
	// ErrRefundKeyReused. Keys are unique across the store. At most 128
	// bytes of UTF-8 without control characters.
	IdempotencyKey string
}

// RefundView is what the host shows of a refund.
type RefundView struct {
	// OutRefundNo is the refund's merchant number (out_refund_no), the
	// one name the gateway knows it by.
	OutRefundNo string `json:"out_refund_no"`
	// OutTradeNo is the refunded payment attempt.
	OutTradeNo string `json:"out_trade_no"`
	// OrderID is the host's business order id of that attempt.
	OrderID string `json:"order_id,omitempty"`
	// Amount is the refund in fen (分).
	Amount int64 `json:"amount"`
	// Status is a store.RefundState: PENDING, PROCESSING, NOTSURE (in
	// flight), SUCCESS, FAIL or CHANGE (final).
	Status string `json:"status"`
	// RefundID is the gateway's refund number, once it gave one.
	RefundID string `json:"refund_id,omitempty"`
	// RefundedAt is the gateway's refund_time, once the refund succeeded.
	RefundedAt *time.Time `json:"refunded_at,omitempty"`
	// Reason is the host's note.
	Reason string `json:"reason,omitempty"`
	// CreatedAt is when the refund was reserved.
	CreatedAt time.Time `json:"created_at"`
}

// Final reports whether the gateway's answer on the refund is final.
func (v RefundView) Final() bool { return store.RefundState(v.Status).Final() }

func refundView(r *store.Refund) RefundView {
	v := RefundView{
		OutRefundNo: r.OutRefundNo, OutTradeNo: r.OutTradeNo, OrderID: r.BusinessID, Amount: r.Amount,
		Status: string(r.State), RefundID: r.RefundID, Reason: r.Reason, CreatedAt: r.CreatedAt,
	}
	if !r.RefundedAt.IsZero() {
		t := r.RefundedAt
		v.RefundedAt = &t
	}
	return v
}

// Refund reserves and records a refund, then asks the gateway for it
// with the refund's own out_refund_no, querying and re-sending that same
// number when the answer is uncertain. It returns the refund as it then
// stands: SUCCESS or PROCESSING when the gateway accepted it, FAIL when
// it refused it (the reservation is released), PENDING or NOTSURE when
// the outcome is still unknown (Poll finishes it). A request the store
// refuses (ErrRefundInvalid, ErrOrderNotFound, ErrNotRefundable,
// ErrRefundAmount, ErrRefundKeyReused) records nothing and calls nothing. A repeat with
// the same idempotency key returns the first refund as it stands, without
// calling the gateway. err is nil whenever a refund was recorded, however
// the gateway answered.
func (r *Refunder) Refund(ctx context.Context, req RefundRequest) (RefundView, error) {
	ref, created, err := r.reserve(ctx, req, r.lease)
	if err != nil {
		return RefundView{}, err
	}
	if !created {
		return refundView(ref), nil
	}
	return refundView(r.driveTraced(ctx, ref, false)), nil
}

// reserve validates req and reserves its refund with a claim of lease
// (zero: due and free for any poller at once).
func (r *Refunder) reserve(ctx context.Context, req RefundRequest, lease time.Duration) (*store.Refund, bool, error) {
	ref, created, err := r.reserveOnce(ctx, req, lease)
	switch {
	case err != nil:
		r.observeRefused(req, err)
	case created:
		r.observe(RefundEvent{Result: RefundRequested, Amount: ref.Amount, OutRefundNo: ref.OutRefundNo, OutTradeNo: ref.OutTradeNo})
	}
	return ref, created, err
}

// reserveOnce is reserve without the Observe hook.
func (r *Refunder) reserveOnce(ctx context.Context, req RefundRequest, lease time.Duration) (*store.Refund, bool, error) {
	if err := checkRefundRequest(req); err != nil {
		return nil, false, err
	}
	if req.Amount <= 0 {
		return nil, false, fmt.Errorf("%w: %d fen is not positive", ErrRefundAmount, req.Amount)
	}
	otn := req.OutTradeNo
	if otn == "" {
		if req.BusinessID == "" {
			return nil, false, fmt.Errorf("%w: give an out_trade_no or a business order id", ErrOrderNotFound)
		}
		o, err := r.paidAttempt(ctx, req.BusinessID)
		if err != nil {
			return nil, false, err
		}
		otn = o.OutTradeNo
	}
	now := r.now()
	due := r.due(now, now)
	if lease == 0 {
		due = now
	}
	ref, created, err := r.refunds.ReserveRefund(ctx, &store.Refund{
		OutTradeNo: otn, Amount: req.Amount, Reason: req.Reason, IdempotencyKey: req.IdempotencyKey,
		AfterClose: req.AfterClose, CreatedAt: now, UpdatedAt: now, NextDue: due,
	}, lease, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, false, fmt.Errorf("%w: %s", ErrOrderNotFound, otn)
	case errors.Is(err, store.ErrNotRefundable):
		return nil, false, fmt.Errorf("%w: %s is not paid", ErrNotRefundable, otn)
	case errors.Is(err, store.ErrRefundAmount):
		return nil, false, fmt.Errorf("%w: %w", ErrRefundAmount, err)
	case errors.Is(err, store.ErrKeyReused):
		return nil, false, fmt.Errorf("%w: %s", ErrRefundKeyReused, req.IdempotencyKey)
	case err != nil:
		return nil, false, fmt.Errorf("handler: reserve refund of %s: %w", otn, err)
	}
	if created {
		r.log.LogAttrs(ctx, slog.LevelInfo, "handler: refund recorded",
			slog.String("out_refund_no", ref.OutRefundNo), slog.String("out_trade_no", otn),
			slog.Int64("refund_fee", ref.Amount))
	}
	return ref, created, nil
}

// Enqueue reserves and records a refund like Refund, but leaves the
// gateway call to the next Poll (it is due at once). It is quick and
// makes no gateway call, for paths that must answer fast, such as the
// notification handler's automatic remedies.
func (r *Refunder) Enqueue(ctx context.Context, req RefundRequest) (RefundView, error) {
	ref, _, err := r.reserve(ctx, req, 0)
	if err != nil {
		return RefundView{}, err
	}
	return refundView(ref), nil
}

// paidAttempt returns the business order's PAID attempt.
func (r *Refunder) paidAttempt(ctx context.Context, businessID string) (*store.Order, error) {
	list, err := r.orders.ListByBusinessID(ctx, businessID)
	if err != nil {
		return nil, fmt.Errorf("handler: list attempts of %s: %w", businessID, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrOrderNotFound, businessID)
	}
	for _, o := range list {
		if o.Status == store.Paid {
			return o, nil
		}
	}
	return nil, fmt.Errorf("%w: %s has no paid attempt", ErrNotRefundable, businessID)
}

// Get returns a refund as stored.
func (r *Refunder) Get(ctx context.Context, outRefundNo string) (RefundView, error) {
	ref, err := r.refunds.GetRefund(ctx, outRefundNo)
	if errors.Is(err, store.ErrNotFound) {
		return RefundView{}, fmt.Errorf("%w: %s", ErrRefundNotFound, outRefundNo)
	}
	if err != nil {
		return RefundView{}, fmt.Errorf("handler: get refund %s: %w", outRefundNo, err)
	}
	return refundView(ref), nil
}

// List returns an attempt's refunds, oldest first.
func (r *Refunder) List(ctx context.Context, outTradeNo string) ([]RefundView, error) {
	list, err := r.refunds.ListRefunds(ctx, outTradeNo)
	if err != nil {
		return nil, fmt.Errorf("handler: list refunds of %s: %w", outTradeNo, err)
	}
	out := make([]RefundView, 0, len(list))
	for _, x := range list {
		out = append(out, refundView(x))
	}
	return out, nil
}

// Poll claims the refunds that are due and drives each once: query by
// out_refund_no, re-send with the same number when the gateway does not
// know it or says NOTSURE, record what it says. It returns how many it
// handled. Several Pollers may run at once on one store: each refund goes
// to one of them.
func (r *Refunder) Poll(ctx context.Context) (int, error) {
	claimed, err := r.refunds.ClaimRefunds(ctx, r.now(), r.lease, r.batch)
	if err != nil {
		return 0, fmt.Errorf("handler: claim refunds: %w", err)
	}
	for i, ref := range claimed {
		if err := ctx.Err(); err != nil {
			// The rest keep their claims until the lease ends, then are due.
			return i, err
		}
		r.driveTraced(ctx, ref, true)
	}
	return len(claimed), nil
}

// Run calls Poll every interval until ctx ends, and returns ctx.Err().
// A failed pass is logged and retried at the next tick.
func (r *Refunder) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return errors.New("handler: Refunder.Run: interval is not positive")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := r.Poll(ctx); err != nil && ctx.Err() == nil {
			r.log.LogAttrs(ctx, slog.LevelError, "handler: refund poll failed", slog.String("err", err.Error()))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// due is when a refund created at created is next queried after now: the
// first point of the schedule after now, the last delay repeating.
func (r *Refunder) due(created, now time.Time) time.Time {
	t := created
	for i := 0; ; i++ {
		t = t.Add(r.schedule[min(i, len(r.schedule)-1)])
		if t.After(now) {
			return t
		}
	}
}
