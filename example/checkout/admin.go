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

// adminRoutes mounts the back office: the refund API behind the bearer
// token, and the admin page, which holds no data and asks for the token.
func (a *app) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin", a.serveAdminPage)
	mux.Handle("POST /admin/refunds", a.requireAdmin(http.HandlerFunc(a.createRefund)))
	mux.Handle("GET /admin/refunds/{out_refund_no}", a.requireAdmin(http.HandlerFunc(a.getRefund)))
	mux.Handle("GET /admin/orders", a.requireAdmin(http.HandlerFunc(a.listOrders)))
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

// refundRequest is POST /admin/refunds.
type refundRequest struct {
	OutTradeNo string `json:"out_trade_no"`
	Amount     int64  `json:"amount"`
	Reason     string `json:"reason"`
}

// refundResponse is the refund as the admin API shows it.
type refundResponse struct {
	OutRefundNo string `json:"out_refund_no"`
	OutTradeNo  string `json:"out_trade_no"`
	Amount      int64  `json:"amount"`
	Status      string `json:"status"`
}

func refundJSON(v handler.RefundView) refundResponse {
	return refundResponse{OutRefundNo: v.OutRefundNo, OutTradeNo: v.OutTradeNo, Amount: v.Amount, Status: v.Status}
}

// acceptedStatus is 201 once the gateway took the refund (it may still be
// paying it back), 202 while its outcome is unknown.
func acceptedStatus(v handler.RefundView) int {
	switch store.RefundState(v.Status) {
	case store.RefundPending, store.RefundNotSure:
		return http.StatusAccepted
	}
	return http.StatusCreated
}

// createRefund refunds part or all of a paid attempt. Every refusal of
// the input comes from the Refunder before anything is recorded or sent.
func (a *app) createRefund(w http.ResponseWriter, r *http.Request) {
	var req refundRequest
	if status, err := readJSON(w, r, &req); err != nil {
		writeProblem(w, status, err.Error())
		return
	}
	key := r.Header.Get("Idempotency-Key")
	switch {
	case strings.TrimSpace(req.OutTradeNo) == "":
		writeProblem(w, http.StatusBadRequest, "out_trade_no is required")
		return
	case len(key) > maxIdempotencyKey:
		writeProblem(w, http.StatusBadRequest, "Idempotency-Key is longer than 128 characters")
		return
	}
	v, err := a.refunder.Refund(r.Context(), handler.RefundRequest{
		OutTradeNo: req.OutTradeNo, Amount: req.Amount, Reason: req.Reason, IdempotencyKey: key,
	})
	switch {
	case errors.Is(err, handler.ErrRefundInvalid):
		// The message names the field and never echoes its value.
		writeProblem(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "handler: "))
	case errors.Is(err, handler.ErrOrderNotFound):
		writeProblem(w, http.StatusNotFound, "no payment "+req.OutTradeNo)
	case errors.Is(err, handler.ErrNotRefundable):
		writeProblem(w, http.StatusConflict, "payment "+req.OutTradeNo+" is not paid (or is fully refunded)")
	case errors.Is(err, handler.ErrRefundAmount):
		writeProblem(w, http.StatusUnprocessableEntity, "amount must be more than 0 and at most what is left to refund")
	case errors.Is(err, handler.ErrRefundKeyReused):
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
	case errors.Is(err, handler.ErrRefundNotFound):
		writeProblem(w, http.StatusNotFound, "no such refund")
	case err != nil:
		a.log.ErrorContext(r.Context(), "checkout: refund lookup failed", slog.String("err", err.Error()))
		writeProblem(w, http.StatusInternalServerError, "refund lookup failed")
	default:
		writeJSON(w, http.StatusOK, refundJSON(v))
	}
}

// adminOrder is one row of the admin page: a shop order, its paid attempt
// and that attempt's refunds.
type adminOrder struct {
	OrderID    string           `json:"order_id"`
	Product    string           `json:"product"`
	OutTradeNo string           `json:"out_trade_no,omitempty"`
	Amount     int64            `json:"amount"`
	Status     string           `json:"status"`
	Refunded   int64            `json:"refunded"`
	Refunds    []refundResponse `json:"refunds"`
}

// listOrders lists the shop's orders, newest first, with their payments
// and refunds.
func (a *app) listOrders(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var out []adminOrder
	orders, err := a.shop.list(ctx)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "order lookup failed")
		return
	}
	for _, o := range orders {
		row := adminOrder{OrderID: o.ID, Product: o.Product.Name, Amount: o.Amount, Status: "UNPAID", Refunds: []refundResponse{}}
		att, err := a.store.ListByBusinessID(ctx, o.ID)
		if err != nil {
			writeProblem(w, http.StatusInternalServerError, "order lookup failed")
			return
		}
		for _, at := range att {
			if at.Status == store.Paid || at.Status == store.Refunded {
				row.OutTradeNo, row.Status = at.OutTradeNo, string(at.Status)
			}
		}
		if row.OutTradeNo != "" {
			if err := a.addRefunds(ctx, &row); err != nil {
				writeProblem(w, http.StatusInternalServerError, "refund lookup failed")
				return
			}
		}
		out = append(out, row)
	}
	if out == nil {
		out = []adminOrder{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *app) addRefunds(ctx context.Context, row *adminOrder) error {
	list, err := a.refunder.List(ctx, row.OutTradeNo)
	if err != nil {
		return err
	}
	for _, v := range list {
		row.Refunds = append(row.Refunds, refundJSON(v))
		if v.Status == string(store.RefundSucceeded) {
			row.Refunded += v.Amount
		}
	}
	return nil
}

// runRefunds queries in-flight refunds on their schedule until ctx ends.
func (a *app) runRefunds(ctx context.Context) {
	_ = a.refunder.Run(ctx, refundPollInterval)
}
