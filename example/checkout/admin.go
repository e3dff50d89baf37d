package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/health"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
)

// refundPollInterval is how often the shop looks for refunds that are due
// a query; each refund's own schedule (1, 5, 10, 20, 30 min…) decides
// whether it is.
const refundPollInterval = 15 * time.Second

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 128

// newAdminToken draws the token used when -admin-token is unset.
func newAdminToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// adminRoutes mounts the back office: its API behind the bearer token,
// and the admin page, which holds no data and asks for the token.
//
// There is no cookie and no session: the page keeps the token in the
// tab's sessionStorage and sends it as an Authorization header, which a
// browser never attaches to another site's request by itself, and the
// shop answers no CORS preflight, so another site's page cannot send it
// either. The POST routes take application/json only, which an HTML form
// cannot send. That is the back office's protection against cross-site
// requests; a refund also needs the server's confirmation of exactly its
// attempt and amount (see refundConfirmer).
func (a *app) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin", a.serveAdminPage)
	admin := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, a.requireAdmin(h)) }
	admin("POST /admin/refunds/preview", a.previewRefund)
	admin("POST /admin/refunds", a.createRefund)
	admin("GET /admin/refunds/{out_refund_no}", a.getRefund)
	admin("GET /admin/orders", a.listOrders)
	admin("GET /admin/attempts/{out_trade_no}", a.adminStatus.ServeHTTP)
	admin("GET /admin/alerts", a.listAlerts)
	admin("GET /admin/health", a.adminHealth)
	a.historyRoutes(admin)
}

func (a *app) serveAdminPage(w http.ResponseWriter, r *http.Request) {
	b, err := webFS.ReadFile("web/admin.html")
	if err != nil {
		http.Error(w, "admin page missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

// requireAdmin answers 401 unless the request carries
// "Authorization: Bearer <admin token>", compared in constant time, and
// 429 (with Retry-After) without looking at the token to a client that
// failed too often (see authFailures).
func (a *app) requireAdmin(next http.Handler) http.Handler {
	want := []byte("Bearer " + a.adminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if blocked, left := a.authFailures.blocked(r); blocked {
			w.Header().Set("Retry-After", retryAfter(left))
			writeProblem(w, http.StatusTooManyRequests, fmt.Sprintf("more than %d wrong admin tokens from this address; retry later", maxAuthFailures-1))
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		if a.adminToken == "" || subtle.ConstantTimeCompare(got, want) != 1 {
			a.authFailures.fail(r)
			w.Header().Set("WWW-Authenticate", `Bearer realm="cypaykit admin"`)
			writeProblem(w, http.StatusUnauthorized, "give Authorization: Bearer <admin token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeProblem answers an RFC 9457 problem.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	writeBody(w, map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
}

// writeBody writes v as JSON after the header.
func writeBody(w http.ResponseWriter, v any) { json.NewEncoder(w).Encode(v) }

// refundRequest is POST /admin/refunds. Amount is whole fen as a JSON
// number, or a string of whole fen or of yuan with two decimals
// ("12.50"). Confirm is what POST /admin/refunds/preview issued for this
// attempt and amount.
type refundRequest struct {
	OutTradeNo string    `json:"out_trade_no"`
	Amount     fenAmount `json:"amount"`
	Reason     string    `json:"reason"`
	Confirm    string    `json:"confirm"`
}

// previewRequest is POST /admin/refunds/preview.
type previewRequest struct {
	OutTradeNo string    `json:"out_trade_no"`
	Amount     fenAmount `json:"amount"`
}

// previewResponse is the confirmation step: what the refund would do,
// in fen, and the confirmation that lets POST /admin/refunds send it.
type previewResponse struct {
	OutTradeNo string    `json:"out_trade_no"`
	OrderID    string    `json:"order_id"`
	Amount     int64     `json:"amount"`
	Paid       int64     `json:"paid"`
	Reserved   int64     `json:"reserved"`
	Refundable int64     `json:"refundable"`
	Confirm    string    `json:"confirm"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// readRefundJSON reads a refund route's body; a malformed amount gets
// its own message, the one the clerk needs.
func readRefundJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	status, err := readJSON(w, r, dst)
	switch {
	case errors.Is(err, errAmountFormat):
		writeProblem(w, http.StatusBadRequest, errAmountFormat.Error())
	case err != nil:
		writeProblem(w, status, err.Error())
	}
	return err == nil
}

// refundable returns a PAID attempt and how much of it is left to refund
// (its amount less every refund that did not fail), or writes the
// problem and returns false.
func (a *app) refundable(w http.ResponseWriter, r *http.Request, outTradeNo string) (*store.Order, int64, bool) {
	o, err := a.store.Get(r.Context(), outTradeNo)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "no payment "+outTradeNo)
		return nil, 0, false
	case err != nil:
		a.log.ErrorContext(r.Context(), "checkout: refund preview failed", slog.String("err", err.Error()))
		writeProblem(w, http.StatusInternalServerError, "payment lookup failed")
		return nil, 0, false
	case o.Status != store.Paid:
		writeProblem(w, http.StatusConflict, "payment "+outTradeNo+" is "+string(o.Status)+", not PAID: nothing to refund")
		return nil, 0, false
	}
	reserved, err := a.reserved(r.Context(), outTradeNo)
	if err != nil {
		a.log.ErrorContext(r.Context(), "checkout: refund preview failed", slog.String("err", err.Error()))
		writeProblem(w, http.StatusInternalServerError, "refund lookup failed")
		return nil, 0, false
	}
	return o, o.Amount - reserved, true
}

// reserved sums an attempt's refunds that did not fail: the money that
// can no longer be refunded.
func (a *app) reserved(ctx context.Context, outTradeNo string) (int64, error) {
	list, err := a.refunder.List(ctx, outTradeNo)
	var sum int64
	for _, v := range list {
		if v.Status != string(store.RefundFailed) {
			sum += v.Amount
		}
	}
	return sum, err
}

// overRemainder is the problem of an amount beyond what is left.
func overRemainder(amount, left int64) string {
	return fmt.Sprintf("¥%s (%d fen) is more than the ¥%s (%d fen) left to refund; nothing was sent",
		formatYuan(amount), amount, formatYuan(left), left)
}

// previewRefund is the refund's first step: it checks the amount against
// what is left to refund and, when it fits, issues the confirmation that
// POST /admin/refunds needs. It records and sends nothing.
func (a *app) previewRefund(w http.ResponseWriter, r *http.Request) {
	var req previewRequest
	if !readRefundJSON(w, r, &req) {
		return
	}
	amount := int64(req.Amount)
	switch {
	case strings.TrimSpace(req.OutTradeNo) == "":
		writeProblem(w, http.StatusBadRequest, "out_trade_no is required")
		return
	case amount <= 0:
		writeProblem(w, http.StatusUnprocessableEntity, "amount must be more than 0")
		return
	}
	o, left, ok := a.refundable(w, r, req.OutTradeNo)
	if !ok {
		return
	}
	if amount > left {
		writeProblem(w, http.StatusUnprocessableEntity, overRemainder(amount, left))
		return
	}
	token, exp := a.confirmer.issue(o.OutTradeNo, amount)
	writeJSON(w, http.StatusOK, previewResponse{
		OutTradeNo: o.OutTradeNo, OrderID: o.BusinessID, Amount: amount,
		Paid: o.Amount, Reserved: o.Amount - left, Refundable: left,
		Confirm: token, ExpiresAt: exp,
	})
}

// refundResponse is the refund as the admin API shows it.
type refundResponse struct {
	OutRefundNo string `json:"out_refund_no"`
	OutTradeNo  string `json:"out_trade_no"`
	Amount      int64  `json:"amount"`
	Status      string `json:"status"`
}

func refundJSON(v refund.View) refundResponse {
	return refundResponse{OutRefundNo: v.OutRefundNo, OutTradeNo: v.OutTradeNo, Amount: v.Amount, Status: v.Status}
}

// acceptedStatus is 201 once the gateway took the refund (it may still be
// paying it back), 202 while its outcome is unknown.
func acceptedStatus(v refund.View) int {
	switch store.RefundState(v.Status) {
	case store.RefundPending, store.RefundNotSure:
		return http.StatusAccepted
	}
	return http.StatusCreated
}

// createRefund refunds part or all of a paid attempt, given the
// confirmation previewRefund issued for that attempt and amount. Every
// refusal of the input comes before anything is recorded or sent.
func (a *app) createRefund(w http.ResponseWriter, r *http.Request) {
	var req refundRequest
	if !readRefundJSON(w, r, &req) {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	amount := int64(req.Amount)
	switch {
	case strings.TrimSpace(req.OutTradeNo) == "":
		writeProblem(w, http.StatusBadRequest, "out_trade_no is required")
		return
	case len(key) > maxIdempotencyKey:
		writeProblem(w, http.StatusBadRequest, "Idempotency-Key is longer than 128 characters")
		return
	case req.Confirm == "":
		writeProblem(w, http.StatusPreconditionRequired, "confirm the refund first: POST /admin/refunds/preview with this out_trade_no and amount returns the confirmation")
		return
	case !a.confirmer.check(req.Confirm, req.OutTradeNo, amount):
		writeProblem(w, http.StatusPreconditionRequired, "the confirmation is for another payment or amount, or has expired: preview the refund again")
		return
	}
	v, err := a.refunder.Refund(r.Context(), refund.Request{
		OutTradeNo: req.OutTradeNo, Amount: amount, Reason: req.Reason, IdempotencyKey: key,
	})
	switch {
	case errors.Is(err, refund.ErrInvalid):
		// The message names the field and never echoes its value.
		writeProblem(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "handler: "))
	case errors.Is(err, handler.ErrOrderNotFound):
		writeProblem(w, http.StatusNotFound, "no payment "+req.OutTradeNo)
	case errors.Is(err, refund.ErrNotRefundable):
		writeProblem(w, http.StatusConflict, "payment "+req.OutTradeNo+" is not paid (or is fully refunded)")
	case errors.Is(err, refund.ErrAmount):
		// Another refund took the money since the preview.
		detail := "amount must be more than 0 and at most what is left to refund"
		if o, gerr := a.store.Get(r.Context(), req.OutTradeNo); gerr == nil && amount > 0 {
			if reserved, lerr := a.reserved(r.Context(), req.OutTradeNo); lerr == nil {
				detail = overRemainder(amount, o.Amount-reserved)
			}
		}
		writeProblem(w, http.StatusUnprocessableEntity, detail)
	case errors.Is(err, refund.ErrKeyReused):
		writeProblem(w, http.StatusUnprocessableEntity, "Idempotency-Key already used for another refund")
	case err != nil:
		a.log.ErrorContext(r.Context(), "checkout: refund failed", slog.String("err", err.Error()))
		writeProblem(w, http.StatusInternalServerError, "refund could not be recorded")
	case v.Status == string(store.RefundFailed):
		// Recorded, sent and refused: nothing was refunded.
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadGateway)
		writeBody(w, map[string]any{"type": "about:blank", "title": "Refund refused", "status": http.StatusBadGateway,
			"detail": "the gateway refused the refund; nothing was refunded", "out_refund_no": v.OutRefundNo})
	default:
		w.Header().Set("Location", "/admin/refunds/"+v.OutRefundNo)
		writeJSON(w, acceptedStatus(v), refundJSON(v))
	}
}

func (a *app) getRefund(w http.ResponseWriter, r *http.Request) {
	v, err := a.refunder.Get(r.Context(), r.PathValue("out_refund_no"))
	switch {
	case errors.Is(err, refund.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "no such refund")
	case err != nil:
		a.log.ErrorContext(r.Context(), "checkout: refund lookup failed", slog.String("err", err.Error()))
		writeProblem(w, http.StatusInternalServerError, "refund lookup failed")
	default:
		writeJSON(w, http.StatusOK, refundJSON(v))
	}
}

// adminOrder is one row of the admin page: a shop order, its payment
// attempts, and the refunds of its paid attempt.
type adminOrder struct {
	OrderID string `json:"order_id"`
	Product string `json:"product"`
	Amount  int64  `json:"amount"`
	// Status is the kit's status of the order's paid attempt (PAID or
	// REFUNDED) if it has one, else of its latest attempt (PENDING,
	// FAILED, CLOSED); empty while it has none.
	Status string `json:"status"`
	// OutTradeNo is the attempt Status is of.
	OutTradeNo string `json:"out_trade_no,omitempty"`
	// Refunded is what SUCCESS refunds gave back; Refundable what is
	// left to refund (0 unless PAID).
	Refunded   int64            `json:"refunded"`
	Refundable int64            `json:"refundable"`
	Refunds    []refundResponse `json:"refunds"`
	Attempts   []adminAttempt   `json:"attempts"`
}

// adminAttempt is one payment attempt of an order, as the list shows it.
type adminAttempt struct {
	OutTradeNo string    `json:"out_trade_no"`
	Attempt    int       `json:"attempt"`
	Channel    string    `json:"channel"`
	Amount     int64     `json:"amount"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// listOrders lists the shop's orders, newest first, with their attempts
// and refunds.
func (a *app) listOrders(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	orders, err := a.shop.list(ctx)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "order lookup failed")
		return
	}
	out := []adminOrder{}
	for _, o := range orders {
		row := adminOrder{OrderID: o.ID, Product: o.Product.Name, Amount: o.Amount, Refunds: []refundResponse{}, Attempts: []adminAttempt{}}
		att, err := a.store.ListByBusinessID(ctx, o.ID)
		if err != nil {
			writeProblem(w, http.StatusInternalServerError, "order lookup failed")
			return
		}
		for _, at := range att {
			row.Attempts = append(row.Attempts, adminAttempt{
				OutTradeNo: at.OutTradeNo, Attempt: at.Attempt, Channel: string(at.Channel), Amount: at.Amount,
				Status: string(at.Status), Reason: at.Reason, CreatedAt: at.CreatedAt,
			})
		}
		if paid := paidAttempt(att); paid != nil {
			row.OutTradeNo, row.Status = paid.OutTradeNo, string(paid.Status)
			if err := a.addRefunds(ctx, &row, paid); err != nil {
				writeProblem(w, http.StatusInternalServerError, "refund lookup failed")
				return
			}
		} else if n := len(att); n > 0 {
			row.OutTradeNo, row.Status = att[n-1].OutTradeNo, string(att[n-1].Status)
		}
		out = append(out, row)
	}
	writeJSON(w, http.StatusOK, out)
}

// paidAttempt is the attempt that holds an order's money, if any.
func paidAttempt(att []*store.Order) *store.Order {
	for _, at := range att {
		if at.Status == store.Paid || at.Status == store.Refunded {
			return at
		}
	}
	return nil
}

func (a *app) addRefunds(ctx context.Context, row *adminOrder, paid *store.Order) error {
	list, err := a.refunder.List(ctx, paid.OutTradeNo)
	if err != nil {
		return err
	}
	var reserved int64
	for _, v := range list {
		row.Refunds = append(row.Refunds, refundJSON(v))
		if v.Status == string(store.RefundSucceeded) {
			row.Refunded += v.Amount
		}
		if v.Status != string(store.RefundFailed) {
			reserved += v.Amount
		}
	}
	if paid.Status == store.Paid {
		row.Refundable = paid.Amount - reserved
	}
	return nil
}

// listAlerts shows this instance's latest alerts, newest first.
func (a *app) listAlerts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.alerts.recent())
}

// adminHealthResponse is the reconciler's side of the back office: the
// readiness facts (store, the reconciler's last pass) with the store's
// error text, and the backlog of PENDING attempts it works through.
type adminHealthResponse struct {
	health.Readiness
	// Pending counts the PENDING attempts; absent when the store cannot
	// count them.
	Pending *int64 `json:"pending,omitempty"`
	// PendingError says why the count failed.
	PendingError string `json:"pending_error,omitempty"`
}

func (a *app) adminHealth(w http.ResponseWriter, r *http.Request) {
	out := adminHealthResponse{Readiness: a.opsHealth.Check(r.Context())}
	if c, ok := a.store.(store.PendingCounter); ok {
		if n, err := c.CountPending(r.Context()); err != nil {
			out.PendingError = err.Error()
		} else {
			out.Pending = &n
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// runRefunds queries in-flight refunds on their schedule until ctx ends.
func (a *app) runRefunds(ctx context.Context) {
	_ = a.refunder.Run(ctx, refundPollInterval)
}
