package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// SettlerConfig configures a Settler. Every field documents its zero value.
type SettlerConfig struct {
	// Store holds the orders. Required.
	Store store.OrderStore
	// Locker serialises the fulfilment hook per business order, across
	// every process that shares Store, so it must be shared as widely as
	// Store is. Nil means Store itself when it implements store.Locker
	// (memstore and sqlstore.Store do: memstore is one process's by
	// nature, sqlstore.Store keeps its leases in the shared database).
	// Nil with any other Store is refused with ErrUnsafeLocker, unless
	// SingleProcess is set (guarantee G11: never silently wrong on two).
	//
	// A Locker that implements store.TryLocker lets duplicates of a PAID
	// order answer at once while its fulfilment runs elsewhere; one that
	// implements store.Extender keeps a long hook's lease renewed.
	//
	// A Locker other than a Store that is itself a store.Locker is fenced
	// by the Store's lease too, so a lease lost in a Redis failover cannot
	// let a second hook run beside the first (see fence.go).
	Locker store.Locker
	// SingleProcess declares that exactly one process uses Store, so that
	// with a nil Locker and a Store that is no Locker the Settler may keep
	// its leases in process memory. Set it only when that is true: a
	// second instance would run the fulfilment hook concurrently with the
	// first. False (the default) refuses that wiring.
	SingleProcess bool
	// Fulfill is the host's fulfilment hook: it runs after an order became
	// PAID, under the business order's lease, and is retried until it
	// returns nil, after which it never runs again for that order. The
	// lease is renewed every LockTTL/3 while the hook runs when Locker is
	// a store.Extender; ctx ends with cause ErrLeaseLost if the lease is
	// lost all the same (or, with a Locker that cannot extend, when the
	// lease runs out), and the hook should then stop. Nil means nothing to
	// run: the order is recorded fulfilled at once.
	//
	// The hook may still run twice for one business order, never at the
	// same time: when its return cannot be recorded within RecordFor, or
	// the process dies between the two. Give the services it calls (a
	// courier API, a voucher issuer) an idempotency key that names the
	// business order, o.BusinessID, not the attempt: a second paid attempt
	// of the same order may be the one that runs it again.
	Fulfill func(ctx context.Context, o store.Order) error
	// RecordFor bounds how long, once the hook returned nil, the Settler
	// keeps trying to record that (store.OrderStore.MarkFulfilled), with
	// growing pauses, before the delivery answers fail. The lease stays
	// held all that time (renewed, with a store.Extender), and if the
	// record still fails the lease is left to run out rather than
	// released, so that nothing runs the hook again sooner: a database
	// that fails for a few seconds costs a late reply, not a second
	// parcel. Zero means LockTTL, and at least 5 s.
	RecordFor time.Duration
	// Alert is called when a validly signed message contradicts the stored
	// order (see AlertKind). Nil means an error-level log line only; the
	// log line is written either way.
	Alert func(ctx context.Context, a Alert)
	// AutoRefund, when set, refunds in full, through this Remedy (a
	// *refund.Refunder), every payment the buyer did not owe: a second
	// paid attempt of a business order (AlertDoublePayment), a payment
	// that landed on an attempt already FAILED or CLOSED
	// (AlertPaidAfterClose), and a payment of an attempt its buyer had
	// abandoned (AlertPaidAfterAbandon). The refund is reserved and
	// recorded before the reply, once per attempt however often the
	// payment is reported and however many instances see it, and is sent
	// by the refunder's Poll (refund.Refunder.Remedy says how). The alert
	// is raised either way. Nil means off: the host refunds by hand. A
	// shop that never wants a buyer to pay twice sets it; the demo shop
	// does.
	AutoRefund Remedy
	// Observe receives one Event per handled notification or query
	// result, for counting. It must be fast and safe for concurrent use.
	// Nil means none.
	Observe func(e Event)
	// Trace starts and ends the stages of notifications and Reconciler
	// passes (see Trace). Nil means none, at no cost.
	Trace Trace
	// Inbox keeps every notification whose sign verified: its raw body,
	// the headers that matter, when, Instance, the outcome and the reply,
	// one row per verified notification (nothing for a request that did
	// not verify), written after the reply by a background writer that
	// keeps everything queued meanwhile in one write when the store is a
	// store.InboxBatcher (see Flush). Copies the duplicate memo answers
	// are counted on the kept item (written by the Reconciler's pass),
	// not kept again. A failed write, or a row dropped because the queue
	// was full (ErrHistoryQueueFull), is logged and reported as an Event
	// with SourceHistory; it never changes or holds the reply. Nil means
	// no inbox. sqlstore.Store and memstore.Store implement it: pass the
	// Store.
	Inbox store.InboxStore
	// Events records the attempts' histories: what the Reconciler's
	// queries found, closings, fulfilment retries and alerts (the
	// PreOrder and the Refunder record theirs through their own Events).
	// Failures are handled as Inbox's. Nil means none; sqlstore.Store and
	// memstore.Store implement it. See LoadHistory.
	Events store.EventStore
	// Instance names this process in the inbox and the history. Empty
	// means the host name.
	Instance string
	// LockTTL is the lease time for one order's fulfilment. Zero means 30 s.
	LockTTL time.Duration
	// Logger receives the Settler's structured logs. Nil means
	// slog.Default() as it is when the constructor runs: the kit's one
	// logger, shared by every handler left at nil (see the package doc).
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Settler is the single path by which an order becomes PAID (guarantee
// G1), shared by Notify and Reconciler: it checks a verified payment
// against the stored order, settles it with the store's compare-and-set
// and runs the fulfilment hook. It is safe for concurrent use.
type Settler struct {
	store  store.OrderStore
	locker store.Locker
	// joint is the store when it is also the Locker and can join the
	// settlement with the lease and the record with the release
	// (store.SettleLocker); nil otherwise.
	joint store.SettleLocker
	// fold is joint when it can also read the attempt in the same step
	// (store.ReadSettleLocker): Notify's paid notifications use it. Nil
	// otherwise.
	fold    store.ReadSettleLocker
	fulfill func(ctx context.Context, o store.Order) error
	alert   func(ctx context.Context, a Alert)
	auto    Remedy
	observe func(e Event)
	trace   Trace
	hist    *recorder // nil: no inbox and no history
	ttl     time.Duration
	record  time.Duration
	log     *slog.Logger
	now     func() time.Time
	// renewAfter starts the wait before a lease renewal: it returns the
	// channel that fires after d and what stops the wait. It is a timer
	// (realAfter); tests of the renewal put their own in, so that a
	// renewal comes when they say and they see the wait it asked for.
	renewAfter func(d time.Duration) (<-chan time.Time, func() bool)
}

// realAfter is Settler.renewAfter outside tests: a timer of d.
func realAfter(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// NewSettler validates cfg and returns a Settler.
func NewSettler(cfg SettlerConfig) (*Settler, error) {
	if cfg.Store == nil {
		return nil, errors.New("handler: SettlerConfig.Store is required")
	}
	if cfg.LockTTL < 0 || cfg.RecordFor < 0 {
		return nil, errors.New("handler: SettlerConfig.LockTTL and RecordFor must not be negative")
	}
	s := &Settler{
		store:   cfg.Store,
		locker:  cfg.Locker,
		fulfill: cfg.Fulfill,
		alert:   cfg.Alert,
		auto:    cfg.AutoRefund,
		observe: cfg.Observe,
		trace:   cfg.Trace,
		ttl:     cfg.LockTTL,
		record:  cfg.RecordFor,
		log:     cfg.Logger,
		now:     cfg.Now,
	}
	if isNil(s.auto) {
		s.auto = nil
	}
	if l, ok := cfg.Store.(store.Locker); ok && s.locker != nil && !sameLocker(s.locker, l) {
		s.locker = fenced(s.locker, l) // see fence.go
	}
	if s.locker == nil {
		if l, ok := cfg.Store.(store.Locker); ok {
			s.locker = l
		} else if cfg.SingleProcess {
			s.locker = memstore.New()
		} else {
			return nil, ErrUnsafeLocker
		}
	}
	if sl, ok := cfg.Store.(store.SettleLocker); ok && sameLocker(s.locker, sl) {
		s.joint = sl
		s.fold, _ = sl.(store.ReadSettleLocker)
	}
	if s.ttl == 0 {
		s.ttl = 30 * time.Second
	}
	if s.record == 0 {
		s.record = max(s.ttl, 5*time.Second)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.renewAfter = realAfter
	if s.now == nil {
		s.now = time.Now
	}
	s.hist = newRecorder(cfg.Inbox, cfg.Events, cfg.Instance, s.log, s.emit)
	return s, nil
}

// proof is what a verified gateway message says about a payment.
type proof struct {
	source  Source
	mchID   string
	amount  int64
	payment store.Payment
	// folded is the settlement the attempt's read already made
	// (store.ReadSettleLocker), nil if none: settle then takes it as its
	// own instead of settling.
	folded *folded
}

// folded is a settlement made with the attempt's read: the lease's token
// when the lease came with it ("" if it was held elsewhere), and a time no
// later than the lease was taken.
type folded struct {
	lease    string
	leasedAt time.Time
	// used: settle took the settlement, and the lease, over.
	used bool
}

// releaseUnused gives up a folded settlement's lease that settle did not
// take over.
func (s *Settler) releaseUnused(ctx context.Context, outTradeNo, businessID string, f *folded) {
	if f.used {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.locker.Release(rctx, lockName(businessID), f.lease); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "handler: lease lost before release",
			slog.String("out_trade_no", outTradeNo), slog.String("err", err.Error()))
	}
}

// settle checks p against o (as read from the store) and settles it, then
// runs the fulfilment. It returns Settled or Duplicate with a nil error,
// or the failing outcome with an error. Only this function calls
// store.Settle.
func (s *Settler) settle(ctx context.Context, o *store.Order, p proof) (Outcome, error) {
	base := Alert{
		Source: p.source, OutTradeNo: o.OutTradeNo,
		MchID: o.MchID, GotMchID: p.mchID,
		WantAmount: o.Amount, GotAmount: p.amount,
		Status: string(o.Status), TransactionID: p.payment.TransactionID,
		StoredTransactionID: o.TransactionID,
	}
	if p.mchID != o.MchID {
		return Mismatch, s.raise(ctx, base, AlertMchMismatch)
	}
	if p.amount != o.Amount {
		return Mismatch, s.raise(ctx, base, AlertAmountMismatch)
	}
	if p.payment.TransactionID == "" {
		return Malformed, fmt.Errorf("%w: no transaction_id", ErrMalformed)
	}
	outcome := Settled
	switch o.Status {
	case store.Reversed:
		// The buyer closed the attempt inside the cancel window after
		// paying it, and the gateway gave the money back: a copy of the
		// payment's notification still arrives. The reversal is durable
		// and nothing is owed either way, so it is acknowledged (the
		// gateway stops retrying) and never fulfilled.
		if o.TransactionID != "" && o.TransactionID != p.payment.TransactionID {
			return Mismatch, s.raise(ctx, base, AlertTransactionConflict)
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "handler: payment of a reversed attempt reported; acknowledged",
			slog.String("out_trade_no", o.OutTradeNo), slog.String("source", string(p.source)),
			slog.String("transaction_id", p.payment.TransactionID))
		return Duplicate, nil
	case store.Refunded:
		// Paid, then refunded in full: a late copy of the payment.
		if o.TransactionID != p.payment.TransactionID {
			return Mismatch, s.raise(ctx, base, AlertTransactionConflict)
		}
		return Duplicate, nil
	case store.Paid:
		if o.TransactionID != p.payment.TransactionID {
			return Mismatch, s.raise(ctx, base, AlertTransactionConflict)
		}
		outcome = Duplicate
		if o.Fulfilled {
			return Duplicate, nil
		}
	case store.Pending:
		leasedAt := time.Now() // no later than the lease, if one comes with the settlement
		var settled bool
		var lease string
		var err error
		if f := p.folded; f != nil {
			// Settled by the read, with the lease if lease is set.
			f.used = true
			settled, lease, leasedAt = true, f.lease, f.leasedAt
		} else {
			settled, lease, err = s.settleAndLease(ctx, o, p.payment)
		}
		switch {
		case errors.Is(err, store.ErrConflict):
			// Someone else moved it first; look at what they did.
			cur, gerr := s.store.Get(ctx, o.OutTradeNo)
			if gerr != nil {
				return StoreError, fmt.Errorf("handler: settle %s: %w", o.OutTradeNo, gerr)
			}
			if cur.Status == store.Pending {
				return StoreError, fmt.Errorf("handler: settle %s: %w", o.OutTradeNo, err)
			}
			return s.settle(ctx, cur, p)
		case err != nil:
			return StoreError, fmt.Errorf("handler: settle %s: %w", o.OutTradeNo, err)
		}
		if !settled {
			outcome = Duplicate
		} else {
			s.log.LogAttrs(ctx, slog.LevelInfo, "handler: order paid",
				slog.String("out_trade_no", o.OutTradeNo), slog.String("source", string(p.source)),
				slog.Int64("total_fee", p.amount), slog.String("transaction_id", p.payment.TransactionID))
		}
		if lease != "" {
			// The lease came with the settlement: nobody can have run the
			// hook in between.
			if oc, err := s.fulfilHeld(ctx, o, p.source, lease, leasedAt); err != nil {
				return oc, err
			}
			return outcome, nil
		}
	default:
		err := s.raise(ctx, base, AlertPaidAfterClose)
		if s.auto != nil && (o.Status == store.Failed || o.Status == store.Closed) {
			if aerr := s.autoRefund(ctx, o, AlertPaidAfterClose); aerr != nil {
				return StoreError, aerr
			}
		}
		return Mismatch, err
	}
	// Only the call that made the transition waits for the lease: the
	// others are duplicates of a PAID order (see fulfilLease).
	if oc, err := s.fulfilLease(ctx, o, p.source, outcome == Settled); err != nil {
		return oc, err
	}
	return outcome, nil
}

// raise fires an alert and returns the error that goes with it.
func (s *Settler) raise(ctx context.Context, a Alert, kind AlertKind) error {
	a.Kind = kind
	s.log.LogAttrs(ctx, slog.LevelError, "handler: payment does not match the order",
		slog.String("alert", string(kind)), slog.String("source", string(a.Source)),
		slog.String("out_trade_no", a.OutTradeNo), slog.String("business_id", a.BusinessID),
		slog.String("other_out_trade_no", a.OtherOutTradeNo), slog.String("mch_id", a.MchID),
		slog.String("got_mch_id", a.GotMchID), slog.Int64("want_fee", a.WantAmount),
		slog.Int64("got_fee", a.GotAmount), slog.String("status", a.Status),
		slog.String("transaction_id", a.TransactionID),
		slog.String("stored_transaction_id", a.StoredTransactionID))
	if s.alert != nil {
		s.alert(ctx, a)
	}
	// Queued for the background writer: a slow history must not hold a
	// reply that an alert does not fail (a double payment's is success).
	s.hist.recordLater(alertEvent(a, s.now()))
	return fmt.Errorf("%w: %s on %s", ErrMismatch, kind, a.OutTradeNo)
}

// lockName is the lease that serialises a business order's side effects.
// It is per business order, not per attempt, so that two paid attempts of
// one order (a buyer who paid two QR codes) cannot both be fulfilled.
func lockName(businessID string) string { return lockPrefix + businessID }

// lockPrefix begins every lockName.
const lockPrefix = "cypay:business:"

// fulfil runs the fulfilment hook for a PAID, unfulfilled attempt under
// its business order's lease, waiting for the lease, and records success.
// It is a no-op for a fulfilled attempt. If another attempt of the same
// business order was fulfilled already, the buyer paid twice: the hook
// does not run again, the attempt is recorded fulfilled (nothing is left
// to deliver) and AlertDoublePayment asks for a refund of this payment.
func (s *Settler) fulfil(ctx context.Context, o *store.Order, source Source) (Outcome, error) {
	return s.fulfilLease(ctx, o, source, true)
}

// fulfilLease is fulfil; with wait false it does not queue for a lease
// that someone holds (see tryLease) and reports Duplicate instead.
//
// Why a duplicate may answer success without waiting: it runs only for an
// attempt whose PAID state is already durable (the store's compare-and-
// set said so), so the payment outcome the gateway is told about cannot
// be lost (G4). The fulfilment is the kit's job from then on, not the
// gateway's: the lease's holder is running it right now, and if that run
// fails, its own reply is fail (so the gateway retries) and the attempt
// stays PAID and unfulfilled, which the Reconciler's fulfilment retries
// and the next delivery both pick up (G3). A holder that died keeps the
// lease only until its TTL, after which the same retries take over. So a
// duplicate that finds the lease held answers success; one that finds it
// free takes it and runs the hook itself, and answers fail if the hook
// fails. Only the call that settled the attempt waits for the lease, so
// that one delivery always sees the fulfilment (or a double payment's
// alert) through.
func (s *Settler) fulfilLease(ctx context.Context, o *store.Order, source Source, wait bool) (Outcome, error) {
	outTradeNo := o.OutTradeNo
	name := lockName(o.BusinessID)
	var tok string
	var err error
	if wait {
		tok, err = s.locker.Acquire(ctx, name, s.ttl)
	} else {
		var ok bool
		tok, ok, err = s.tryLease(ctx, name)
		if err == nil && !ok {
			s.log.LogAttrs(ctx, slog.LevelDebug, "handler: fulfilment in flight elsewhere",
				slog.String("out_trade_no", outTradeNo), slog.String("source", string(source)))
			return Duplicate, nil
		}
	}
	if err != nil {
		return lockOutcome(ctx), fmt.Errorf("handler: lock %s: %w", outTradeNo, err)
	}
	return s.fulfilHeld(ctx, o, source, tok, time.Now())
}

// readSettle reads a verified payment's attempt and, in the same store
// step (store.ReadSettleLocker, s.fold), makes settle's compare-and-set
// and takes the business order's lease, but only when the attempt is
// PENDING and passes settle's checks of p (merchant, amount) and the
// verifying key's (versions: the order versions that key may settle,
// G1). The attempt comes back as read, before any change, for settle to
// check in full; fold is the settlement, which settle then takes over
// (nil when the step did not settle). p.payment.TransactionID must be
// set (settle refuses a payment without one before it settles).
func (s *Settler) readSettle(ctx context.Context, outTradeNo string, versions []model.Version, p proof) (o *store.Order, fold *folded, err error) {
	leasedAt := time.Now() // no later than the lease, if one comes with the settlement
	want := store.Expect{MchID: p.mchID, Amount: p.amount, Versions: versions}
	o, settled, lease, _, err := s.fold.ReadSettleAndTryAcquire(ctx, outTradeNo, want, p.payment, s.now(), lockPrefix, s.ttl)
	if err != nil || !settled {
		return o, nil, err
	}
	return o, &folded{lease: lease, leasedAt: leasedAt}, nil
}

// settleAndLease settles o with payment, through the store's joint
// settle-and-lease where there is one (store.SettleLocker): then a call
// that settled usually holds the business order's lease too, and lease is
// its token. Otherwise lease is "" and the lease is taken separately.
func (s *Settler) settleAndLease(ctx context.Context, o *store.Order, payment store.Payment) (settled bool, lease string, err error) {
	if s.joint == nil {
		settled, err = s.store.Settle(ctx, o.OutTradeNo, payment, s.now())
		return settled, "", err
	}
	settled, lease, _, err = s.joint.SettleAndTryAcquire(ctx, o.OutTradeNo, payment, s.now(), lockName(o.BusinessID), s.ttl)
	return settled, lease, err
}

// fulfilHeld is fulfilLease once the lease, token tok, is held (taken at
// about acquired): it keeps the lease, rereads the attempt, runs the hook
// and records it, then gives the lease up.
func (s *Settler) fulfilHeld(ctx context.Context, o *store.Order, source Source, tok string, acquired time.Time) (Outcome, error) {
	outTradeNo := o.OutTradeNo
	name := lockName(o.BusinessID)
	ctx, stop := s.keepLease(ctx, name, tok, acquired)
	release := true
	defer func() {
		stop()
		if !release {
			return
		}
		// Release even when ctx ended, so the next delivery need not wait
		// for the lease to expire.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.locker.Release(rctx, name, tok); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "handler: lease lost before release",
				slog.String("out_trade_no", outTradeNo), slog.String("err", err.Error()))
		}
	}()
	cur, first, err := s.rereadUnderLease(ctx, o)
	if err != nil {
		return lockOutcome(ctx), err
	}
	if cur.Status != store.Paid || cur.Fulfilled {
		return Duplicate, nil
	}
	if !cur.AbandonedAt.IsZero() {
		// The buyer gave this attempt up and its business order was freed
		// for another: its payment is a second one, whatever the others.
		_ = s.raise(ctx, Alert{
			Source: source, OutTradeNo: outTradeNo, BusinessID: cur.BusinessID,
			MchID: cur.MchID, GotMchID: cur.MchID, WantAmount: cur.Amount, GotAmount: cur.Amount,
			Status: string(cur.Status), TransactionID: cur.TransactionID,
		}, AlertPaidAfterAbandon)
		if s.auto != nil {
			if err := s.autoRefund(ctx, cur, AlertPaidAfterAbandon); err != nil {
				return lockOutcome(ctx), err
			}
		}
	} else if first != nil {
		_ = s.raise(ctx, Alert{
			Source: source, OutTradeNo: outTradeNo, BusinessID: cur.BusinessID,
			OtherOutTradeNo: first.OutTradeNo, MchID: cur.MchID, GotMchID: cur.MchID,
			WantAmount: cur.Amount, GotAmount: cur.Amount, Status: string(cur.Status),
			TransactionID: cur.TransactionID, StoredTransactionID: first.TransactionID,
		}, AlertDoublePayment)
		if s.auto != nil {
			if err := s.autoRefund(ctx, cur, AlertDoublePayment); err != nil {
				return lockOutcome(ctx), err
			}
		}
	} else if err := s.runHook(ctx, *cur); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "handler: fulfilment failed",
			slog.String("out_trade_no", outTradeNo), slog.String("err", err.Error()))
		return HookError, err
	}
	// The hook succeeded (or must not run): record it even if ctx has
	// just ended, or it would run again. A joint store gives the lease up
	// with the record.
	released, err := s.markFulfilled(ctx, outTradeNo, name, tok)
	if released {
		release = false
	}
	if err != nil {
		// Whoever takes the lease next runs the hook again: not before
		// the lease runs out.
		release = false
		s.log.LogAttrs(ctx, slog.LevelError, "handler: fulfilment not recorded; its lease is kept until it expires",
			slog.String("out_trade_no", outTradeNo), slog.String("err", err.Error()))
		return StoreError, err
	}
	return Settled, nil
}

// markFulfilled records that the hook returned nil for outTradeNo. A lost
// record means the hook runs again, so it tries harder than the reply's
// deadline would allow: for RecordFor, apart from ctx's end, with pauses
// that grow to a second so that a busy or restarting database (SQLite's
// single writer under a storm, PostgreSQL coming back) can recover. The
// caller still holds the lease meanwhile, renewed by keepLease. An
// attempt that is no longer PAID (refunded while the hook ran) is not
// tried again: it never will be.
func (s *Settler) markFulfilled(ctx context.Context, outTradeNo, name, token string) (released bool, err error) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.record)
	defer cancel()
	pause := 50 * time.Millisecond
	for {
		if s.joint != nil {
			err = s.joint.MarkFulfilledAndRelease(mctx, outTradeNo, s.now(), name, token)
			if errors.Is(err, store.ErrNotHeld) {
				// Recorded; the lease had run out or been taken.
				s.log.LogAttrs(ctx, slog.LevelWarn, "handler: lease lost before release",
					slog.String("out_trade_no", outTradeNo), slog.String("err", err.Error()))
				return true, nil
			}
		} else {
			err = s.store.MarkFulfilled(mctx, outTradeNo, s.now())
		}
		if err == nil {
			return s.joint != nil, nil
		}
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) || mctx.Err() != nil {
			return false, fmt.Errorf("handler: mark %s fulfilled: %w", outTradeNo, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-mctx.Done():
			t.Stop()
		}
		pause = min(2*pause, time.Second)
	}
}

// autoRefund reserves the full refund of a payment the buyer did not owe
// (why says which), for the AutoRefund Remedy to send.
func (s *Settler) autoRefund(ctx context.Context, o *store.Order, why AlertKind) error {
	no, err := s.auto.Remedy(ctx, *o, why)
	if err != nil {
		return fmt.Errorf("handler: automatic refund of %s: %w", o.OutTradeNo, err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "handler: automatic refund recorded", slog.String("alert", string(why)),
		slog.String("out_trade_no", o.OutTradeNo), slog.String("out_refund_no", no))
	return nil
}

// rereadUnderLease reads o's attempt again, now that its business
// order's lease is held, together with another attempt of that order
// that is already fulfilled (nil if none): one read of the business
// order's attempts answers both. Checked under the lease, the sibling
// lets exactly one paid attempt run the hook: the first to get there.
// (An attempt is only ever recorded fulfilled without its hook when a
// sibling was fulfilled before it, or when it was abandoned, so a
// fulfilled sibling that was not abandoned always means the hook ran for
// the business order.)
func (s *Settler) rereadUnderLease(ctx context.Context, o *store.Order) (cur, fulfilled *store.Order, err error) {
	attempts, err := s.store.ListByBusinessID(ctx, o.BusinessID)
	if err != nil {
		return nil, nil, fmt.Errorf("handler: reread attempts of %s: %w", o.OutTradeNo, err)
	}
	for _, a := range attempts {
		switch {
		case a.OutTradeNo == o.OutTradeNo:
			cur = a
		case a.Fulfilled && a.AbandonedAt.IsZero() && fulfilled == nil:
			// An abandoned attempt is recorded fulfilled without its
			// hook (its payment is a second one): it fulfilled nothing.
			fulfilled = a
		}
	}
	if cur == nil {
		// A store that lists by business id lists every attempt; one that
		// did not is asked directly rather than trusted.
		if cur, err = s.store.Get(ctx, o.OutTradeNo); err != nil {
			return nil, nil, fmt.Errorf("handler: reread %s: %w", o.OutTradeNo, err)
		}
	}
	return cur, fulfilled, nil
}

func lockOutcome(ctx context.Context) Outcome {
	if ctx.Err() != nil {
		return Timeout
	}
	return StoreError
}

// runHook calls the fulfilment hook, turning a panic into an error.
func (s *Settler) runHook(ctx context.Context, o store.Order) (err error) {
	if s.fulfill == nil {
		return nil
	}
	ctx, end := s.stage(ctx, StageFulfil)
	defer func() { end(err) }() // runs after the recover below has set err
	defer func() {
		if r := recover(); r != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "handler: fulfilment hook panicked",
				slog.String("out_trade_no", o.OutTradeNo), slog.Any("panic", r),
				slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("%w: %s: panic: %v", ErrHook, o.OutTradeNo, r)
		}
	}()
	if err := s.fulfill(ctx, o); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrHook, o.OutTradeNo, err)
	}
	return nil
}

// emit reports an event to the Observe hook.
func (s *Settler) emit(e Event) {
	if s.observe != nil {
		s.observe(e)
	}
}

// stage starts st under the Settler's Trace hook, if any.
func (s *Settler) stage(ctx context.Context, st Stage) (context.Context, func(error)) {
	if s.trace == nil {
		return ctx, endNothing
	}
	return s.trace(ctx, st)
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
