package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/internal/formpost"
	"github.com/cypaykit/kit/internal/memo"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store"
)

// NotifyConfig configures a Notify handler. Every field documents its
// zero value.
type NotifyConfig struct {
	// Settler settles verified payments. Required.
	Settler *Settler
	// Keys verifies notifications: the agent key for orders created under
	// v1, the merchant's keys (by the notification's mch_id, which must
	// then be the order's) for v2. MerchantKeys is called with the
	// unverified mch_id, before the store is read. Required: AgentKey or
	// MerchantKeys must be set.
	Keys client.Keyring
	// Algorithm is the signature algorithm; it is configuration, never
	// read from the payload. Zero means MD5.
	Algorithm sign.Algorithm
	// Deadline bounds the work for one notification, from the start of
	// its body's arrival; when it passes the reply is fail and a body
	// still arriving is cut off. Zero means 2 s (the gateway gives up
	// after 3 s).
	Deadline time.Duration
	// MaxBody is the largest accepted body in bytes. Zero means 64 KiB.
	MaxBody int64
	// DuplicateMemo is how many attempts Notify remembers, for 10
	// minutes each, as settled and fulfilled in the store, so that a copy
	// of their notification (the gateway sends each several times) is
	// answered success without a store read. A copy is answered from
	// memory only if its sign verifies under the key that verified before
	// and its mch_id, total_fee and transaction_id are the stored ones;
	// anything else is handled in full. The memo is per process and only
	// ever holds facts that stay true, so it is safe on any number of
	// instances; a key removed from MerchantKeys still verifies copies of
	// such payments until their 10 minutes end. Zero means 4096; negative
	// means no memo.
	DuplicateMemo int
	// Logger receives this handler's structured logs. Nil means
	// slog.Default() as it is when the constructor runs: the kit's one
	// logger, shared by every handler left at nil (see the package doc).
	Logger *slog.Logger
}

// Notify receives the gateway's payment notifications (异步通知). It
// accepts only a POST of application/x-www-form-urlencoded, reads the body
// once through MaxBody and decodes it itself (the query string never
// enters the signed set; a name given twice or bytes that are not UTF-8
// are refused), holds every field it decides on to a strict shape (see
// model.CheckFields), verifies the sign against the keys that could have
// signed for the named mch_id (that merchant's and the agent key) before
// it reads the store, then finds the order by out_trade_no and requires
// that the key that verified is the order's (v1: agent key; v2: the
// merchant's). It then checks state, result_code, mch_id and pay_result,
// then total_fee against the order, and settles through the Settler. A
// bad sign, a key of the wrong version and an unknown order get the same
// reply.
//
// The body of the reply is exactly "success" once the outcome is durably
// recorded (including a verified failed payment, recorded FAILED), and
// "fail" otherwise, so that the gateway retries; the status code only
// helps people reading logs. It is safe for concurrent use.
type Notify struct {
	settler  *Settler
	keys     client.Keyring
	alg      sign.Algorithm
	deadline time.Duration
	maxBody  int64
	memo     *memo.Memo[paidFact] // nil: none
	log      *slog.Logger
}

// NewNotify validates cfg and returns the notification handler.
func NewNotify(cfg NotifyConfig) (*Notify, error) {
	if cfg.Settler == nil {
		return nil, errors.New("handler: NotifyConfig.Settler is required")
	}
	if err := cfg.Keys.Validate(); err != nil {
		return nil, fmt.Errorf("handler: NotifyConfig.Keys: %w", err)
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = sign.MD5
	}
	if _, err := sign.Sign(nil, "k", cfg.Algorithm); err != nil {
		return nil, fmt.Errorf("handler: NotifyConfig.Algorithm: %w", err)
	}
	if cfg.Deadline < 0 || cfg.MaxBody < 0 {
		return nil, errors.New("handler: NotifyConfig.Deadline and MaxBody must not be negative")
	}
	n := &Notify{
		settler:  cfg.Settler,
		keys:     cfg.Keys,
		alg:      cfg.Algorithm,
		deadline: cfg.Deadline,
		maxBody:  cfg.MaxBody,
		log:      cfg.Logger,
	}
	if n.deadline == 0 {
		n.deadline = 2 * time.Second
	}
	if n.maxBody == 0 {
		n.maxBody = 64 << 10
	}
	if n.log == nil {
		n.log = slog.Default()
	}
	if cfg.DuplicateMemo == 0 {
		cfg.DuplicateMemo = defaultMemoSize
	}
	n.memo = memo.New[paidFact](cfg.DuplicateMemo, memoTTL)
	return n, nil
}

// Reply header values.
const (
	textPlain = "text/plain; charset=utf-8"
	noStore   = "no-store"
)

// The literal replies the gateway understands.
var (
	replySuccess = []byte("success")
	replyFail    = []byte("fail")
)

// result is the outcome of handling one notification.
type result struct {
	outcome    Outcome
	outTradeNo string
	status     int
	err        error

	// verified: the sign verified, so the inbox keeps the notification.
	verified bool
	body     []byte
	values   url.Values
	// remember: the memo learns fact once the notification is kept (its
	// copies are counted on the kept item).
	remember bool
	fact     paidFact
}

// ServeHTTP handles one notification.
func (n *Notify) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r, end := traceRequest(n.settler.trace, r, StageNotify)
	res := n.receive(w, r)
	defer end(res.err)
	if res.err != nil {
		level := slog.LevelWarn
		switch res.outcome {
		case StoreError, HookError, Timeout, ConfigError:
			level = slog.LevelError
		case Mismatch:
			level = slog.LevelError // the Settler logged the details
		}
		n.log.LogAttrs(r.Context(), level, "handler: notification failed",
			slog.String("outcome", res.outcome.String()),
			slog.String("out_trade_no", res.outTradeNo),
			slog.String("remote", r.RemoteAddr),
			slog.String("err", res.err.Error()))
	}
	n.settler.emit(Event{Outcome: res.outcome, OutTradeNo: res.outTradeNo, Source: SourceNotify, Err: res.err, Duration: time.Since(start)})
	if res.verified || res.remember {
		// After the outcome: keeping it cannot change it. The memo learns
		// the attempt once its notification is kept, so that copies are
		// counted on that row.
		now, remember, fact, otn := n.settler.now(), res.remember, res.fact, res.outTradeNo
		n.settler.hist.keep(r, res.body, &res, now, func(id int64) {
			if remember {
				fact.inboxID = id
				n.memo.Put(otn, fact, now)
			}
		})
	}
	h := w.Header()
	// Assigned rather than Set: the canonical names and the values are
	// built once, which the duplicate path's throughput notices.
	h["Content-Type"] = []string{textPlain}
	h["Cache-Control"] = []string{noStore}
	if res.err != nil {
		if res.status == http.StatusMethodNotAllowed {
			h.Set("Allow", http.MethodPost)
		}
		w.WriteHeader(res.status)
		_, _ = w.Write(replyFail)
		return
	}
	_, _ = w.Write(replySuccess)
}

// receive checks the transport, reads the body once, then does the rest,
// all under the deadline: a body still arriving when it passes is cut off
// (G13), so a sender trickling bytes cannot hold a connection open.
func (n *Notify) receive(w http.ResponseWriter, r *http.Request) result {
	deadline := time.Now().Add(n.deadline)
	body, values, status, err := formpost.ReadBy(w, r, n.maxBody, deadline)
	if err != nil {
		return result{outcome: Malformed, status: status, err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	if otn := values.Get("out_trade_no"); otn != "" && !validOutTradeNo(otn) {
		// Junk (a NUL byte, say) is refused here, not by a store error.
		return result{outcome: Malformed, status: http.StatusBadRequest,
			err: fmt.Errorf("%w: out_trade_no is not 5-32 letters and digits", ErrMalformed)}
	}
	if res, ok := n.fromMemo(r.Context(), values); ok {
		return res // no store, locker or hook call: nothing to guard
	}

	// The work runs apart from the reply so that a store, locker or hook
	// that ignores ctx cannot hold the reply past the deadline. What it
	// leaves behind stays consistent: settling is one compare-and-set and
	// an unrecorded fulfilment is retried.
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	done := make(chan result, 1)
	var verified atomic.Bool
	go func() { done <- n.process(ctx, values, &verified) }()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		res = result{outcome: Timeout, outTradeNo: values.Get("out_trade_no"),
			status: http.StatusServiceUnavailable,
			err:    fmt.Errorf("handler: notification not handled in time: %w", ctx.Err())}
	}
	if verified.Load() && n.settler.hist != nil {
		res.verified, res.body, res.values = true, body, values
	}
	return res
}

// fromMemo answers a copy of a paid notification for an attempt the memo
// knows is settled and fulfilled: Duplicate, as the Settler would, if the
// message passes the same shape checks, says paid, names the stored
// merchant, amount and transaction id, and verifies under the key that
// verified before. Otherwise it reports false and the message is handled
// in full (a sign that fails here may be under a rotated key, so it is
// verified again against every candidate).
func (n *Notify) fromMemo(ctx context.Context, values url.Values) (result, bool) {
	if n.memo == nil {
		return result{}, false
	}
	f, ok := n.memo.Get(values.Get("out_trade_no"), n.settler.now())
	if !ok {
		return result{}, false
	}
	note, err := decodeNotification(values)
	if err != nil || !note.paid() || note.mchID != f.mchID || !note.hasFee ||
		note.totalFee != f.amount || note.transactionID != f.transactionID {
		return result{}, false
	}
	if _, err := model.ParseTime(note.timeEnd); err != nil {
		return result{}, false
	}
	_, endVerify := n.settler.stage(ctx, StageVerify)
	_, err = sign.VerifyIndex(values, n.alg, f.key)
	endVerify(err)
	if err != nil {
		return result{}, false
	}
	if f.inboxID != 0 {
		n.settler.hist.countCopy(f.inboxID) // a map increment: no store call
	}
	return result{outcome: Duplicate, outTradeNo: note.outTradeNo}, true
}

// notification holds the fields a notification is decided on. The
// signature covers every received field (model.DecodeNotification keeps
// them all); these are only read, directly from the form, because a
// reflective decode costs more than the rest of the handler together.
type notification struct {
	state, resultCode, payResult    string
	mchID, outTradeNo               string
	transactionID, outTransactionID string
	timeEnd                         string
	totalFee                        int64
	hasFee                          bool
}

// succeeded reports a notification of a completed exchange (state and
// result_code), whatever the payment's result.
func (n notification) succeeded() bool {
	return model.State(n.state) == model.StateSuccess && (n.resultCode == model.ResultSuccess || n.resultCode == "0")
}

// paid reports a notification that says the buyer paid.
func (n notification) paid() bool {
	return n.succeeded() && n.payResult == model.PayResultSuccess
}

// decodeNotification reads the decided fields after
// model.CheckNotification has held them to their strict shapes and
// required those the message's meaning rests on (guarantee G10): none can
// be blank or hold a '&k=v' run, so none can come from outside the signed
// string.
func decodeNotification(values url.Values) (notification, error) {
	if err := model.CheckNotification(values); err != nil {
		return notification{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return readNotification(values), nil
}

// readNotification reads the decided fields of values that
// model.CheckNotification has passed.
func readNotification(values url.Values) notification {
	get := func(k string) string {
		if vs := values[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	n := notification{
		state: get("state"), resultCode: get("result_code"), payResult: get("pay_result"),
		mchID: get("mch_id"), outTradeNo: get("out_trade_no"),
		transactionID: get("transaction_id"), outTransactionID: get("out_transaction_id"),
		timeEnd: get("time_end"),
	}
	if fee := get("total_fee"); fee != "" {
		n.totalFee, _ = model.ParseNumber(fee) // CheckNotification held it to the shape
		n.hasFee = true
	}
	return n
}

// notifyFacts reads a verified paid notification's payment facts, which
// process held to model.CheckFacts. The signature covers every
// received field, these included.
func notifyFacts(values url.Values) signedFacts {
	get := func(k string) string {
		if vs := values[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	f := signedFacts{trusted: true, feeType: get("fee_type"), bankType: get("bank_type"),
		subAppID: get("sub_appid"), wxMchID: get("wx_mch_id"), wxSubMchID: get("wx_sub_mch_id")}
	if c := get("coupon_fee"); c != "" {
		f.couponFee, _ = model.ParseNumber(c) // CheckFacts held it to the shape
	}
	return f
}

// refusedStatus is the one status for a sign that verifies under no candidate
// key, a key of the wrong version for the order, and an unknown order, so
// that an outsider cannot tell which orders exist.
const refusedStatus = http.StatusUnauthorized

// process verifies a notification and settles it. Shape, keys and sign
// are checked by client.Keyring.VerifyNotification, the pipeline
// middleware.VerifyNotification shares, against every key that could have
// signed for the named merchant before the store is read (guarantee G13);
// the key that verified must then be the order's: the merchant's for v2,
// the agent's for v1 (G1).
func (n *Notify) process(ctx context.Context, values url.Values, verified *atomic.Bool) result {
	_, endVerify := n.settler.stage(ctx, StageVerify)
	key, merchantKey, err := n.keys.VerifyNotification(ctx, values, n.alg)
	endVerify(err)
	if err == nil {
		verified.Store(true)
	}
	otn := values.Get("out_trade_no")
	fail := func(o Outcome, status int, err error) result {
		return result{outcome: o, outTradeNo: otn, status: status, err: err}
	}
	switch {
	case errors.Is(err, client.ErrNotificationShape):
		// No order number: a malformed message names none we trust.
		return result{outcome: Malformed, status: http.StatusBadRequest, err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	case errors.Is(err, client.ErrKeyLookup):
		return fail(ConfigError, http.StatusInternalServerError, fmt.Errorf("handler: keys of %s: %w", values.Get("mch_id"), err))
	case err != nil:
		return fail(BadSign, refusedStatus, err)
	}
	note := readNotification(values)
	// What a paid notification reports, worked out once for the read
	// (which may settle with it) and the settlement: the payment, why its
	// money facts are not recorded ("" if they are), and time_end's error.
	var payment store.Payment
	var unrecorded string
	var timeErr error
	if note.paid() {
		// A paid notification's facts are stored with the payment, so
		// they are held to their shapes too: one that fails was cut, or
		// is malformed, and is refused like any cut of a decided field
		// (the reconciler's query settles the payment all the same).
		if err := model.CheckFacts(values); err != nil {
			return fail(Malformed, http.StatusBadRequest, fmt.Errorf("%w: %w", ErrMalformed, err))
		}
		var paidAt time.Time
		var money store.MoneyFacts
		paidAt, timeErr = model.ParseTime(note.timeEnd)
		money, unrecorded = moneyFacts(note.totalFee, notifyFacts(values))
		payment = notePayment(note, paidAt, money)
	}
	versions := n.ownVersions(key, merchantKey)
	order, fold, err := n.readOrder(ctx, note, payment, timeErr, versions)
	if errors.Is(err, store.ErrNotFound) {
		return fail(UnknownOrder, refusedStatus, fmt.Errorf("handler: unknown out_trade_no: %w", err))
	}
	if err != nil {
		return fail(lockOutcome(ctx), http.StatusInternalServerError, fmt.Errorf("handler: get order: %w", err))
	}
	if fold != nil && fold.lease != "" {
		// settle takes the fold's lease over; should a check below refuse
		// what the store's settled (it cannot: the store required the
		// same), the lease is given up rather than left to run out.
		defer n.settler.releaseUnused(ctx, otn, order.BusinessID, fold)
	}
	// The agent key must not speak for a v2 order, nor a merchant key for
	// a v1 one: each order has one kind of key that may settle it. The
	// key is compared, not only its place, in case a host gave a merchant
	// the agent key too.
	if ownKey := slices.Contains(versions, order.Version); !ownKey {
		return fail(BadSign, refusedStatus, fmt.Errorf("handler: %s order signed with another version's key: %w", order.Version, sign.ErrBadSign))
	}
	if !note.succeeded() {
		// The gateway reports a failed exchange, not a payment result:
		// nothing to record; the reconciler queries the order.
		return result{outcome: NotPaid, outTradeNo: otn}
	}
	if note.mchID != order.MchID {
		// A verified message about another merchant's order: under a v1
		// agent key this is possible, and it must change nothing, not even
		// record a failed payment.
		err := n.settler.raise(ctx, Alert{
			Source: SourceNotify, OutTradeNo: otn, MchID: order.MchID, GotMchID: note.mchID,
			WantAmount: order.Amount, GotAmount: note.totalFee, Status: string(order.Status),
			TransactionID: note.transactionID, StoredTransactionID: order.TransactionID,
		}, AlertMchMismatch)
		return fail(Mismatch, http.StatusConflict, err)
	}
	if note.payResult != model.PayResultSuccess {
		err := n.settler.store.Finish(ctx, otn, store.Failed, "pay_result="+truncate(note.payResult, 16), n.settler.now())
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return fail(lockOutcome(ctx), http.StatusInternalServerError, fmt.Errorf("handler: record failed payment: %w", err))
		}
		return result{outcome: NotPaid, outTradeNo: otn}
	}
	// model.CheckNotification required total_fee, transaction_id and a
	// yyyyMMddHHmmss time_end for a paid notification.
	if timeErr != nil {
		return fail(Malformed, http.StatusBadRequest, fmt.Errorf("%w: %w", ErrMalformed, timeErr))
	}
	final := order.Status == store.Paid && order.Fulfilled || order.Status == store.Refunded
	if order.Status == store.Pending {
		logUnrecorded(ctx, n.settler.log, SourceNotify, otn, unrecorded)
	}
	outcome, err := n.settler.settleTraced(ctx, order, proof{
		source:  SourceNotify,
		mchID:   note.mchID,
		amount:  note.totalFee,
		payment: payment,
		folded:  fold,
	})
	if err != nil {
		status := http.StatusInternalServerError
		switch outcome {
		case Mismatch:
			status = http.StatusConflict
		case Malformed:
			status = http.StatusBadRequest
		case Timeout:
			status = http.StatusServiceUnavailable
		}
		return fail(outcome, status, err)
	}
	res := result{outcome: outcome, outTradeNo: otn}
	if final && outcome == Duplicate && n.memo != nil {
		// The Settler found the stored payment equal to this one and
		// nothing left to do: so will it for every copy. ServeHTTP puts
		// it in the memo once the notification is kept.
		res.remember, res.fact = true, paidFact{mchID: order.MchID, amount: order.Amount,
			transactionID: order.TransactionID, key: key}
	}
	return res
}

// The order versions a verifying key may settle (G1): v2 for a merchant's
// key, v1 for the agent key, both for a merchant key that is also the
// agent key.
var (
	versionsV1   = []model.Version{model.V1}
	versionsV2   = []model.Version{model.V2}
	versionsBoth = []model.Version{model.V1, model.V2}
)

// ownVersions are the order versions key, which verified a notification,
// may settle: merchantKey says it is the named merchant's.
func (n *Notify) ownVersions(key string, merchantKey bool) []model.Version {
	switch agent := key == n.keys.AgentKey; {
	case merchantKey && agent:
		return versionsBoth
	case merchantKey:
		return versionsV2
	case agent:
		return versionsV1
	}
	return nil
}

// notePayment is the payment a verified paid notification reports.
func notePayment(note notification, paidAt time.Time, money store.MoneyFacts) store.Payment {
	return store.Payment{
		TransactionID:        note.transactionID,
		ChannelTransactionID: note.outTransactionID,
		PaidAt:               paidAt,
		Money:                money,
	}
}

// readOrder reads the notification's attempt. For a paid notification
// that process would go on to settle (decided from the verified message
// alone: paid, with a transaction_id, a total_fee and a time_end that
// parses, timeErr nil), through a Settler whose joint store is a
// store.ReadSettleLocker, the read also settles the attempt with payment
// and takes its lease when it is PENDING and holds what the message allows
// (see Settler.readSettle): one store call where there were two (issue
// 18.8). fold is that settlement (nil if none); the attempt comes back as
// it was read, before it, so that process checks it exactly as a Get's.
// Otherwise it is Get.
func (n *Notify) readOrder(ctx context.Context, note notification, payment store.Payment, timeErr error, versions []model.Version) (order *store.Order, fold *folded, err error) {
	if n.settler.fold == nil || !note.paid() || note.transactionID == "" || !note.hasFee || timeErr != nil {
		order, err = n.settler.store.Get(ctx, note.outTradeNo)
		return order, nil, err
	}
	return n.settler.readSettle(ctx, note.outTradeNo, versions, proof{
		source: SourceNotify, mchID: note.mchID, amount: note.totalFee, payment: payment,
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
