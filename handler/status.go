package handler

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/cypaykit/kit/store"
)

// StatusConfig configures a Status handler. Every field documents its zero
// value.
type StatusConfig struct {
	// Store holds the orders. Required.
	Store store.OrderStore
	// Refunds adds the refunded amount to each view. Nil means Store when
	// it implements store.RefundStore, else no refund figures (refunded
	// shows 0).
	Refunds store.RefundStore
	// Logger receives structured logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Status answers GET requests for an attempt's state as JSON (an
// OrderView). It reads out_trade_no from r.PathValue("out_trade_no") or
// the query parameter out_trade_no; or, given the query parameter
// order_id, it shows that business order's PAID attempt if any, else its
// latest attempt. It never shows keys or gateway payloads, and changes
// nothing.
type Status struct {
	store   store.OrderStore
	refunds store.RefundStore
	log     *slog.Logger
}

// NewStatus validates cfg and returns the status handler.
func NewStatus(cfg StatusConfig) (*Status, error) {
	if cfg.Store == nil {
		return nil, errors.New("handler: StatusConfig.Store is required")
	}
	s := &Status{store: cfg.Store, refunds: cfg.Refunds, log: cfg.Logger}
	if s.refunds == nil {
		s.refunds, _ = cfg.Store.(store.RefundStore)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// OrderView is the JSON the Status and PreOrder handlers return.
type OrderView struct {
	OutTradeNo    string     `json:"out_trade_no"`
	OrderID       string     `json:"order_id"`
	Amount        int64      `json:"amount"`
	Channel       string     `json:"channel"`
	TradeType     string     `json:"trade_type,omitempty"`
	Status        string     `json:"status"`
	CodeURL       string     `json:"code_url,omitempty"`
	PayInfo       string     `json:"pay_info,omitempty"`
	PaidAt        *time.Time `json:"paid_at,omitempty"`
	Fulfilled     bool       `json:"fulfilled"`
	TransactionID string     `json:"transaction_id,omitempty"`
	// Refunded is what SUCCESS refunds gave back, in fen.
	Refunded int64 `json:"refunded"`
	// RefundState is PARTLY_REFUNDED or REFUNDED once refunds succeeded;
	// empty before.
	RefundState string `json:"refund_state,omitempty"`
}

// Refund states of an OrderView.
const (
	PartlyRefunded = "PARTLY_REFUNDED"
	FullyRefunded  = "REFUNDED"
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
	}
	if o.Status == store.Pending {
		// A checkout is only worth showing while it can still be paid.
		v.CodeURL, v.PayInfo = o.CodeURL, o.PayInfo
	}
	if !o.PaidAt.IsZero() {
		t := o.PaidAt
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
	switch bid := r.URL.Query().Get("order_id"); {
	case otn != "":
		o, err = s.store.Get(r.Context(), otn)
	case bid != "":
		o, err = s.latest(r, bid)
	default:
		writeProblem(w, problem{Status: http.StatusBadRequest, Detail: "give out_trade_no or order_id"})
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, problem{Status: http.StatusNotFound, Detail: "no such order"})
		return
	}
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "handler: status lookup failed", slog.String("err", err.Error()))
		writeProblem(w, problem{Status: http.StatusInternalServerError, Detail: "order lookup failed"})
		return
	}
	v := viewOf(o)
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
// latest one.
func (s *Status) latest(r *http.Request, businessID string) (*store.Order, error) {
	list, err := s.store.ListByBusinessID(r.Context(), businessID)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, store.ErrNotFound
	}
	for _, o := range list {
		if o.Status == store.Paid || o.Status == store.Refunded {
			return o, nil
		}
	}
	return list[len(list)-1], nil
}
