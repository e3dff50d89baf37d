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

// Errors of a refund request, wrapped with a message for people; the host
// maps them to answers (the example shop: 400, 404, 409, 422). A request
// for an order the store does not know is handler.ErrOrderNotFound.
var (
	// ErrAmount: the amount is not positive or exceeds what is left to
	// refund of the attempt (its amount minus every refund that has not
	// definitively failed, in-flight ones included).
	ErrAmount = errors.New("refund: amount out of range")
	// ErrNotRefundable: the attempt (or business order) has no PAID
	// attempt to refund: unpaid, closed or fully refunded.
	ErrNotRefundable = errors.New("refund: order not refundable")
	// ErrKeyReused: the idempotency key already names a refund of another
	// order or amount.
	ErrKeyReused = errors.New("refund: idempotency key reused")
	// ErrNotFound: no refund has that out_refund_no.
	ErrNotFound = errors.New("refund: refund not found")
	// ErrInvalid: a field of the request is malformed (an out_trade_no of
	// the wrong shape, a reason with a control character or too long); the
	// message names the field (400).
	ErrInvalid = errors.New("refund: request invalid")
	// errReply: a verified refundquery reply that does not fit the refund
	// asked about.
	errReply = errors.New("refund: refundquery reply does not match the refund")
	// errUncertain ends a handler.StageRefund whose gateway round left the
	// refund without a certain answer.
	errUncertain = errors.New("refund: outcome not certain yet")
)

// checkRequest refuses, before any store sees them, fields a store would
// keep differently or fail on (PostgreSQL errors on a NUL that MariaDB
// stores), so that every store answers alike.
func checkRequest(req Request) error {
	if req.OutTradeNo != "" && !validOutTradeNo(req.OutTradeNo) {
		return fmt.Errorf("%w: out_trade_no must be 5-32 letters and digits", ErrInvalid)
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
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return nil
}

// DefaultSchedule returns when in-flight refunds are queried, counted
// from the refund's creation: after 1 minute, then 5, 10, 20 and 30
// minutes later, then every 30 minutes until the gateway's answer is
// final. Each call returns a fresh slice.
func DefaultSchedule() []time.Duration {
	return []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute}
}

// Config configures a Refunder. Every field documents its zero
// value.
type Config struct {
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
	// means DefaultSchedule().
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
	Alert func(ctx context.Context, a handler.Alert)
	// Observe is called for each step of a refund (see Result):
	// requested, refused, and each state recorded after a gateway round.
	// It must be fast and safe for concurrent use. Nil costs nothing.
	// observe/kitprom and observe/kitotel count these.
	Observe func(Event)
	// Trace starts a handler.StageRefund around each gateway round of a refund
	// (a Refund call or a Poll of it), so the gateway calls made in it
	// are its children. Nil costs nothing.
	Trace handler.Trace
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
	alert    func(ctx context.Context, a handler.Alert)
	obs      func(Event)
	events   store.EventStore // nil: no history
	instance string           // the host's name, for the history
	trace    handler.Trace
	log      *slog.Logger
	now      func() time.Time
	unsigned handler.ReplyStreak // replies that did not verify, in a row
}

// New validates cfg and returns a Refunder.
func New(cfg Config) (*Refunder, error) {
	if cfg.Store == nil {
		return nil, errors.New("refund: Config.Store is required")
	}
	if cfg.Client == nil {
		return nil, errors.New("refund: Config.Client is required")
	}
	r := &Refunder{
		orders: cfg.Store, refunds: cfg.Refunds, clients: map[model.Version]*client.Client{},
		opUser: cfg.OpUserID, schedule: append([]time.Duration(nil), cfg.Schedule...), lease: cfg.Lease, batch: cfg.Batch,
		alert: cfg.Alert, obs: cfg.Observe, trace: cfg.Trace, log: cfg.Logger, now: cfg.Now,
	}
	if r.refunds == nil {
		rs, ok := cfg.Store.(store.RefundStore)
		if !ok {
			return nil, errors.New("refund: Config.Refunds is required when Store is no store.RefundStore")
		}
		r.refunds = rs
	}
	for _, c := range append(cfg.Clients, cfg.Client) {
		if c == nil {
			return nil, errors.New("refund: Config.Clients holds a nil client")
		}
		r.clients[c.Version()] = c
	}
	if cfg.Schedule == nil {
		r.schedule = DefaultSchedule()
	}
	for _, d := range r.schedule {
		if d <= 0 {
			return nil, errors.New("refund: Config.Schedule holds a delay that is not positive")
		}
	}
	if len(r.schedule) == 0 {
		return nil, errors.New("refund: Config.Schedule is empty")
	}
	if r.lease < 0 || r.batch < 0 {
		return nil, errors.New("refund: Config.Lease and Batch must not be negative")
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
	if cfg.Events != nil {
		r.events, r.instance = cfg.Events, hostName()
	}
	return r, nil
}

// Request asks for a refund of one paid attempt.
type Request struct {
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
	// ErrKeyReused. Keys are unique across the store. At most 128
	// bytes of UTF-8 without control characters.
	IdempotencyKey string
}

// View is what the host shows of a refund.
type View struct {
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
func (v View) Final() bool { return store.RefundState(v.Status).Final() }

func viewOf(r *store.Refund) View {
	v := View{
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
// refuses (ErrInvalid, handler.ErrOrderNotFound, ErrNotRefundable,
// ErrAmount, ErrKeyReused) records nothing and calls nothing. A repeat with
// the same idempotency key returns the first refund as it stands, without
// calling the gateway. err is nil whenever a refund was recorded, however
// the gateway answered.
func (r *Refunder) Refund(ctx context.Context, req Request) (View, error) {
	ref, created, err := r.reserve(ctx, req, r.lease)
	if err != nil {
		return View{}, err
	}
	if !created {
		return viewOf(ref), nil
	}
	return viewOf(r.driveTraced(ctx, ref, false)), nil
}

// reserve validates req and reserves its refund with a claim of lease
// (zero: due and free for any poller at once).
func (r *Refunder) reserve(ctx context.Context, req Request, lease time.Duration) (*store.Refund, bool, error) {
	ref, created, err := r.reserveOnce(ctx, req, lease)
	switch {
	case err != nil:
		r.observeRefused(req, err)
	case created:
		r.observe(Event{Result: Requested, Amount: ref.Amount, OutRefundNo: ref.OutRefundNo, OutTradeNo: ref.OutTradeNo})
	}
	return ref, created, err
}

// reserveOnce is reserve without the Observe hook.
func (r *Refunder) reserveOnce(ctx context.Context, req Request, lease time.Duration) (*store.Refund, bool, error) {
	if err := checkRequest(req); err != nil {
		return nil, false, err
	}
	if req.Amount <= 0 {
		return nil, false, fmt.Errorf("%w: %d fen is not positive", ErrAmount, req.Amount)
	}
	otn := req.OutTradeNo
	if otn == "" {
		if req.BusinessID == "" {
			return nil, false, fmt.Errorf("%w: give an out_trade_no or a business order id", handler.ErrOrderNotFound)
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
		return nil, false, fmt.Errorf("%w: %s", handler.ErrOrderNotFound, otn)
	case errors.Is(err, store.ErrNotRefundable):
		return nil, false, fmt.Errorf("%w: %s is not paid", ErrNotRefundable, otn)
	case errors.Is(err, store.ErrRefundAmount):
		return nil, false, fmt.Errorf("%w: %w", ErrAmount, err)
	case errors.Is(err, store.ErrKeyReused):
		return nil, false, fmt.Errorf("%w: %s", ErrKeyReused, req.IdempotencyKey)
	case err != nil:
		return nil, false, fmt.Errorf("refund: reserve refund of %s: %w", otn, err)
	}
	if created {
		r.log.LogAttrs(ctx, slog.LevelInfo, "refund: refund recorded",
			slog.String("out_refund_no", ref.OutRefundNo), slog.String("out_trade_no", otn),
			slog.Int64("refund_fee", ref.Amount))
	}
	return ref, created, nil
}

// Enqueue reserves and records a refund like Refund, but leaves the
// gateway call to the next Poll (it is due at once). It is quick and
// makes no gateway call, for paths that must answer fast, such as the
// notification handler's automatic remedies.
func (r *Refunder) Enqueue(ctx context.Context, req Request) (View, error) {
	ref, _, err := r.reserve(ctx, req, 0)
	if err != nil {
		return View{}, err
	}
	return viewOf(ref), nil
}

// autoKeyPrefix starts the idempotency key of every automatic refund
// (Remedy): the key is autoKeyPrefix plus the attempt's out_trade_no.
const autoKeyPrefix = "cypay-auto:"

// Remedy reserves the full refund of o, a payment the buyer did not owe
// (why: handler.AlertDoublePayment, AlertPaidAfterClose or
// AlertPaidAfterAbandon), for the next Poll to send, and returns its
// out_refund_no; it implements handler.Remedy, so a Refunder is what
// handler.SettlerConfig.AutoRefund takes. The idempotency key is
// "cypay-auto:" plus the attempt's out_trade_no, so a repeated
// notification, on any instance, finds the same refund; a payment on an
// attempt already FAILED or CLOSED (AlertPaidAfterClose) is refunded
// with Request.AfterClose.
func (r *Refunder) Remedy(ctx context.Context, o store.Order, why handler.AlertKind) (string, error) {
	v, err := r.Enqueue(ctx, Request{
		OutTradeNo: o.OutTradeNo, Amount: o.Amount, Reason: string(why),
		IdempotencyKey: autoKeyPrefix + o.OutTradeNo, AfterClose: why == handler.AlertPaidAfterClose,
	})
	return v.OutRefundNo, err
}

// validOutTradeNo reports whether s has the shape of every out_trade_no
// the kit makes (handler.OutTradeNo): 5–32 ASCII letters and digits.
func validOutTradeNo(s string) bool {
	if len(s) < 5 || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// paidAttempt returns the business order's PAID attempt.
func (r *Refunder) paidAttempt(ctx context.Context, businessID string) (*store.Order, error) {
	list, err := r.orders.ListByBusinessID(ctx, businessID)
	if err != nil {
		return nil, fmt.Errorf("refund: list attempts of %s: %w", businessID, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: %s", handler.ErrOrderNotFound, businessID)
	}
	for _, o := range list {
		if o.Status == store.Paid {
			return o, nil
		}
	}
	return nil, fmt.Errorf("%w: %s has no paid attempt", ErrNotRefundable, businessID)
}

// Get returns a refund as stored.
func (r *Refunder) Get(ctx context.Context, outRefundNo string) (View, error) {
	ref, err := r.refunds.GetRefund(ctx, outRefundNo)
	if errors.Is(err, store.ErrNotFound) {
		return View{}, fmt.Errorf("%w: %s", ErrNotFound, outRefundNo)
	}
	if err != nil {
		return View{}, fmt.Errorf("refund: get refund %s: %w", outRefundNo, err)
	}
	return viewOf(ref), nil
}

// List returns an attempt's refunds, oldest first.
func (r *Refunder) List(ctx context.Context, outTradeNo string) ([]View, error) {
	list, err := r.refunds.ListRefunds(ctx, outTradeNo)
	if err != nil {
		return nil, fmt.Errorf("refund: list refunds of %s: %w", outTradeNo, err)
	}
	out := make([]View, 0, len(list))
	for _, x := range list {
		out = append(out, viewOf(x))
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
		return 0, fmt.Errorf("refund: claim refunds: %w", err)
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
		return errors.New("refund: Refunder.Run: interval is not positive")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := r.Poll(ctx); err != nil && ctx.Err() == nil {
			r.log.LogAttrs(ctx, slog.LevelError, "refund: refund poll failed", slog.String("err", err.Error()))
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
