package handler

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// StatusConfig configures a Status handler. Every field documents its zero
// value.
type StatusConfig struct {
	// Store holds the orders. Required.
	Store store.OrderStore
	// Authorize says what the caller of r may see of order o, which the
	// request named (by out_trade_no or order_id). Out-trade numbers are
	// guessable (business id + two digits), so a status route open to the
	// internet needs one: check the shop's session, or a token the shop
	// handed the buyer with the order. StatusDenied answers 404 exactly as
	// for an unknown order, so a stranger learns nothing, not even that
	// the order exists. Nil means StatusViewer for everyone: state and
	// amount but never pay_info, which is the payer's alone.
	Authorize func(r *http.Request, o *store.Order) StatusAccess
	// Refunds adds the refunded amount to each view. Nil means Store when
	// it implements store.RefundStore, else no refund figures (refunded
	// shows 0).
	Refunds store.RefundStore
	// Logger receives this handler's structured logs. Nil means
	// slog.Default() as it is when the constructor runs: the kit's one
	// logger, shared by every handler left at nil (see the package doc).
	Logger *slog.Logger
}

// StatusAccess is what a caller may see of an order; its zero value
// denies.
type StatusAccess int

const (
	// StatusDenied: the order is answered as unknown (404).
	StatusDenied StatusAccess = iota
	// StatusViewer: the order's state, amount and payment facts, but not
	// pay_info (the JS cashier's signed parameters belong to one buyer).
	StatusViewer
	// StatusPayer: everything the view has, pay_info included. Give it
	// only to the buyer who started the attempt.
	StatusPayer
)

// Status answers GET requests for an attempt's state as JSON (an
// OrderView). It reads out_trade_no from r.PathValue("out_trade_no") or
// the query parameter out_trade_no; or, given the query parameter
// order_id, it shows that business order's PAID attempt if any, else its
// latest attempt. StatusConfig.Authorize decides who sees what; pay_info
// is shown only to the payer. It never shows keys or gateway payloads,
// and changes nothing. Mount it on two patterns to serve every lookup:
// "GET /pay/orders/{out_trade_no}" and "GET /pay/orders" (for ?order_id=
// and ?out_trade_no=); a path pattern alone never sees ?order_id=.
type Status struct {
	store     store.OrderStore
	refunds   store.RefundStore
	authorize func(r *http.Request, o *store.Order) StatusAccess
	log       *slog.Logger
}

// NewStatus validates cfg and returns the status handler.
func NewStatus(cfg StatusConfig) (*Status, error) {
	if cfg.Store == nil {
		return nil, errors.New("handler: StatusConfig.Store is required")
	}
	s := &Status{store: cfg.Store, refunds: cfg.Refunds, authorize: cfg.Authorize, log: cfg.Logger}
	if s.refunds == nil {
		s.refunds, _ = cfg.Store.(store.RefundStore)
	}
	if s.authorize == nil {
		s.authorize = func(*http.Request, *store.Order) StatusAccess { return StatusViewer }
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// OrderView is the JSON the Status and PreOrder handlers return.
type OrderView struct {
	// OutTradeNo is the attempt's merchant order number (business order
	// id plus attempt sequence).
	OutTradeNo string `json:"out_trade_no"`
	// OrderID is the host's business order id the attempt pays for.
	OrderID string `json:"order_id"`
	// Amount is the amount due in fen (分), from the host's Resolve, never
	// from the browser.
	Amount int64 `json:"amount"`
	// Channel is WECHAT, ALIPAY or ECNY.
	Channel string `json:"channel"`
	// TradeType is the pre-order trade_type: NATIVE (QR code), JSPAY, APP
	// or APP_BANK.
	TradeType string `json:"trade_type,omitempty"`
	// Status is PENDING, PAID, FAILED, CLOSED, REFUNDED or REVERSED
	// (store.Status).
	Status string `json:"status"`
	// Abandoned reports that the buyer gave the attempt up (see
	// Reconciler.Close): it shows no checkout, and a payment that still
	// lands on it is a second payment, refunded rather than fulfilled.
	Abandoned bool `json:"abandoned,omitempty"`
	// CodeURL is the text to render as a QR code (NATIVE); shown only
	// while PENDING.
	CodeURL string `json:"code_url,omitempty"`
	// PayInfo is JSON text for the in-app cashier (JSPAY, see
	// docs/jsapi.md); shown only while PENDING.
	PayInfo string `json:"pay_info,omitempty"`
	// PaidAt is when the buyer paid, in RFC 3339 in the gateway's zone
	// (+08:00) to the second, e.g. 2026-12-01T13:04:05+08:00, whatever
	// the store; absent until PAID.
	PaidAt *time.Time `json:"paid_at,omitempty"`
	// Fulfilled reports that the host's fulfilment hook has succeeded for
	// this attempt.
	Fulfilled bool `json:"fulfilled"`
	// TransactionID is the gateway's trade number; absent until PAID.
	TransactionID string `json:"transaction_id,omitempty"`
	// OutTransactionID is the channel's own trade number (WeChat's,
	// Alipay's), when the gateway sent one; absent until PAID.
	OutTransactionID string `json:"out_transaction_id,omitempty"`
	// Money is what the settling notification or query said about the
	// money; absent until PAID, and for payments whose facts were not
	// recorded (settled before the store kept them, or refused by
	// model.CheckFacts): absent means unknown, never "no coupon".
	Money *MoneyView `json:"money,omitempty"`
	// Refunded is what SUCCESS refunds gave back, in fen.
	Refunded int64 `json:"refunded"`
	// RefundState is PARTLY_REFUNDED or REFUNDED once refunds succeeded;
	// empty before.
	RefundState OrderRefundState `json:"refund_state,omitempty"`
}

// MoneyView is an OrderView's money facts (store.MoneyFacts). Amounts are
// fen; coupon_fee and cash_fee are always present, the text fields only
// when the gateway sent them.
type MoneyView struct {
	// CouponFee is the coupon (代金券) part of the amount (coupon_fee);
	// 0 when none. The gateway does not refund coupons.
	CouponFee int64 `json:"coupon_fee"`
	// CashFee is the cash the buyer paid: amount minus coupon_fee.
	CashFee int64 `json:"cash_fee"`
	// FeeType is the currency (fee_type), CNY.
	FeeType string `json:"fee_type,omitempty"`
	// BankType is the paying bank or account type (bank_type), e.g. CFT.
	BankType string `json:"bank_type,omitempty"`
	// SubAppID is the WeChat AppID the buyer paid under (sub_appid).
	SubAppID string `json:"sub_appid,omitempty"`
	// WxMchID is WeChat's service-provider merchant number (wx_mch_id).
	WxMchID string `json:"wx_mch_id,omitempty"`
	// WxSubMchID is WeChat's sub-merchant number (wx_sub_mch_id).
	WxSubMchID string `json:"wx_sub_mch_id,omitempty"`
}

// OrderRefundState is how much of an attempt refunds gave back, as an
// OrderView reports it.
type OrderRefundState string

// Refund states of an OrderView.
const (
	PartlyRefunded OrderRefundState = "PARTLY_REFUNDED"
	FullyRefunded  OrderRefundState = "REFUNDED"
)

// withRefunds adds an attempt's refund totals to v.
func withRefunds(v *OrderView, t store.RefundTotals) {
	v.Refunded = t.Refunded
	switch {
	case t.Refunded > 0 && t.Refunded >= v.Amount:
		v.RefundState = FullyRefunded
	case t.Refunded > 0:
		v.RefundState = PartlyRefunded
	}
}

func viewOf(o *store.Order) OrderView {
	v := OrderView{
		OutTradeNo:    o.OutTradeNo,
		OrderID:       o.BusinessID,
		Amount:        o.Amount,
		Channel:       string(o.Channel),
		TradeType:     o.TradeType,
		Status:        string(o.Status),
		Fulfilled:     o.Fulfilled,
		TransactionID: o.TransactionID,
		Abandoned:     !o.AbandonedAt.IsZero(),
	}
	if o.Status == store.Paid || o.Status == store.Refunded {
		v.OutTransactionID = o.ChannelTransactionID
		if m := o.Money; m.Recorded {
			v.Money = &MoneyView{CouponFee: m.CouponFee, CashFee: m.CashFee, FeeType: m.FeeType, BankType: m.BankType,
				SubAppID: m.SubAppID, WxMchID: m.WxMchID, WxSubMchID: m.WxSubMchID}
		}
	}
	if o.Status == store.Pending && !v.Abandoned {
		// A checkout is only worth showing while it can still be paid.
		v.CodeURL, v.PayInfo = o.CodeURL, o.PayInfo
	}
	if !o.PaidAt.IsZero() {
		// One form whatever the store hands back (SQLite: UTC; memstore:
		// as given): the gateway's zone, to the second, like time_end.
		t := o.PaidAt.In(model.Beijing).Truncate(time.Second)
		v.PaidAt = &t
	}
	return v
}

// ServeHTTP answers one status request.
func (s *Status) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeProblem(w, problem{Status: http.StatusMethodNotAllowed, Detail: "use GET"})
		return
	}
	otn := r.PathValue("out_trade_no")
	if otn == "" {
		otn = r.URL.Query().Get("out_trade_no")
	}
	var (
		o   *store.Order
		err error
	)
	bid := r.URL.Query().Get("order_id")
	switch {
	case otn != "" && !validOutTradeNo(otn):
		writeProblem(w, problem{Status: http.StatusBadRequest, Detail: "out_trade_no must be 5-32 letters and digits"})
		return
	case otn == "" && bid != "" && (len(bid) > 128 || !printable(bid)):
		writeProblem(w, problem{Status: http.StatusBadRequest, Detail: "order_id must be printable UTF-8, at most 128 bytes"})
		return
	}
	switch {
	case otn != "":
		o, err = s.store.Get(r.Context(), otn)
	case bid != "":
		o, err = s.latest(r, bid)
	default:
		writeProblem(w, problem{Status: http.StatusBadRequest, Detail: "give out_trade_no or order_id"})
		return
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.LogAttrs(r.Context(), slog.LevelError, "handler: status lookup failed", slog.String("err", err.Error()))
		writeProblem(w, problem{Status: http.StatusInternalServerError, Detail: "order lookup failed"})
		return
	}
	access := StatusDenied
	if err == nil {
		access = s.authorize(r, o)
	}
	if access != StatusViewer && access != StatusPayer {
		// Unknown and not yours read the same.
		writeProblem(w, problem{Status: http.StatusNotFound, Detail: "no such order"})
		return
	}
	v := viewOf(o)
	if access == StatusViewer {
		v.PayInfo = ""
	}
	if s.refunds != nil && (o.Status == store.Paid || o.Status == store.Refunded) {
		t, err := s.refunds.RefundTotals(r.Context(), o.OutTradeNo)
		if err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelError, "handler: refund totals lookup failed", slog.String("err", err.Error()))
			writeProblem(w, problem{Status: http.StatusInternalServerError, Detail: "order lookup failed"})
			return
		}
		withRefunds(&v, t)
	}
	writeJSON(w, http.StatusOK, v)
}

// latest returns a business order's PAID (or REFUNDED) attempt, else its
// latest one. A paid attempt the buyer had abandoned is a second payment,
// not the order's: it is shown only as the latest.
func (s *Status) latest(r *http.Request, businessID string) (*store.Order, error) {
	list, err := s.store.ListByBusinessID(r.Context(), businessID)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, store.ErrNotFound
	}
	for _, o := range list {
		if (o.Status == store.Paid || o.Status == store.Refunded) && o.AbandonedAt.IsZero() {
			return o, nil
		}
	}
	return list[len(list)-1], nil
}
