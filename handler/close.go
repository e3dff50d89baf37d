package handler

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/cypaykit/kit/store"
)

// CloseConfig configures the buyer's close route. Every field documents
// its zero value.
type CloseConfig struct {
	// Reconciler closes the attempts (Reconciler.Close); its store must be
	// a store.Closer. Required.
	Reconciler *Reconciler
	// Authorize is the status route's (StatusConfig.Authorize): only a
	// caller it answers StatusPayer, the buyer who started the attempt,
	// may close it; anyone else gets 404, exactly as for an unknown
	// attempt. Required: closing is never open to everyone.
	Authorize func(r *http.Request, o *store.Order) StatusAccess
	// Logger receives this handler's structured logs. Nil means
	// slog.Default() as it is when the constructor runs.
	Logger *slog.Logger
}

// CloseAttempt answers POST requests that close an attempt for its buyer
// (Reconciler.Close), with the CloseResult as JSON. It reads out_trade_no
// from r.PathValue("out_trade_no"); mount it as
// "POST /pay/orders/{out_trade_no}/close". A paid attempt is 409; a
// failure to reach the store is 503 (the buyer may retry: Close is
// idempotent).
type CloseAttempt struct {
	rec       *Reconciler
	authorize func(r *http.Request, o *store.Order) StatusAccess
	log       *slog.Logger
}

// NewCloseAttempt validates cfg and returns the close route.
func NewCloseAttempt(cfg CloseConfig) (*CloseAttempt, error) {
	if cfg.Reconciler == nil || cfg.Authorize == nil {
		return nil, errors.New("handler: CloseConfig.Reconciler and Authorize are required")
	}
	if _, ok := cfg.Reconciler.store.(store.Closer); !ok {
		return nil, ErrCloseUnsupported
	}
	c := &CloseAttempt{rec: cfg.Reconciler, authorize: cfg.Authorize, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

// ServeHTTP answers one close request.
func (c *CloseAttempt) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeProblem(w, problem{Status: http.StatusMethodNotAllowed, Detail: "use POST"})
		return
	}
	otn := r.PathValue("out_trade_no")
	if !validOutTradeNo(otn) {
		writeProblem(w, problem{Status: http.StatusBadRequest, Detail: "out_trade_no must be 5-32 letters and digits"})
		return
	}
	o, err := c.rec.store.Get(r.Context(), otn)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.log.LogAttrs(r.Context(), slog.LevelError, "handler: close lookup failed", slog.String("err", err.Error()))
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Detail: "the order cannot be closed now; retry"})
		return
	}
	if err != nil || c.authorize(r, o) != StatusPayer {
		// Unknown and not yours read the same.
		writeProblem(w, problem{Status: http.StatusNotFound, Detail: "no such order"})
		return
	}
	res, err := c.rec.Close(r.Context(), otn)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
	case errors.Is(err, ErrAttemptPaid):
		writeProblem(w, problem{Status: http.StatusConflict, OutTradeNo: otn,
			Detail: "this payment went through and cannot be abandoned; ask the shop for a refund"})
	case errors.Is(err, ErrOrderNotFound):
		writeProblem(w, problem{Status: http.StatusNotFound, Detail: "no such order"})
	default:
		c.log.LogAttrs(r.Context(), slog.LevelError, "handler: close failed",
			slog.String("out_trade_no", otn), slog.String("err", err.Error()))
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Detail: "the order cannot be closed now; retry"})
	}
}
