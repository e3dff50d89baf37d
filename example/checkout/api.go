package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
)

// maxJSONBody bounds the shop's own JSON requests.
const maxJSONBody = 4 << 10

// configResponse tells the page what it talks to.
type configResponse struct {
	Simulator bool   `json:"simulator"`
	Version   string `json:"version"`
	MchID     string `json:"mch_id"`
}

func (a *app) serveConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, configResponse{
		Simulator: a.sim != nil,
		Version:   string(a.cfg.Version),
		MchID:     a.cfg.MchID,
	})
}

func serveProducts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, catalogue)
}

// createOrderRequest has no amount: the server prices the order, and a
// request that carries one is rejected as an unknown field.
type createOrderRequest struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

type createOrderResponse struct {
	OrderID string `json:"order_id"`
	Amount  int64  `json:"amount"`
	// StatusToken lets the buyer start the order's payment
	// (POST /pay/preorder?token=…) and read its status
	// (GET /pay/orders/{out_trade_no}?token=…); nobody else can. It is
	// handed out here only, never by the pre-order.
	StatusToken string `json:"status_token"`
}

func (a *app) createOrder(w http.ResponseWriter, r *http.Request) {
	var req createOrderRequest
	if status, err := readJSON(w, r, &req); err != nil {
		writeError(w, status, err.Error())
		return
	}
	o, wait, err := a.shop.create(r.Context(), req.ProductID, req.Quantity)
	switch {
	case errors.Is(err, errUnknownProduct):
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown product %q", req.ProductID))
		return
	case errors.Is(err, errBadQuantity):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("quantity must be 1 to %d", maxQuantity))
		return
	case errors.Is(err, errBusy):
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		writeError(w, http.StatusTooManyRequests, "too many new orders; try again in a few seconds")
		return
	case err != nil:
		a.log.ErrorContext(r.Context(), "checkout: create order", slog.String("err", err.Error()))
		writeError(w, http.StatusInternalServerError, "the order could not be recorded")
		return
	}
	writeJSON(w, http.StatusCreated, createOrderResponse{OrderID: o.ID, Amount: o.Amount, StatusToken: a.tokens.mint(o.ID)})
}

// simPay makes the simulated buyer pay; the simulator then sends its
// signed notification to /pay/notify like the real gateway would.
func (a *app) simPay(w http.ResponseWriter, r *http.Request) {
	outTradeNo := r.PathValue("out_trade_no")
	switch err := a.sim.Pay(outTradeNo); {
	case errors.Is(err, gatewaytest.ErrUnknownOrder):
		writeError(w, http.StatusNotFound, "the simulator has no order "+outTradeNo)
	case errors.Is(err, gatewaytest.ErrNotUnpaid):
		writeError(w, http.StatusConflict, "order "+outTradeNo+" is not unpaid")
	case err != nil:
		writeError(w, http.StatusInternalServerError, "simulator: payment failed")
	default:
		writeJSON(w, http.StatusOK, map[string]string{"out_trade_no": outTradeNo, "result": "paid at the gateway; notification on its way"})
	}
}

// readJSON decodes one JSON object, strictly: unknown fields, trailing
// data and bodies over maxJSONBody are errors. It returns the status to
// answer with.
func readJSON(w http.ResponseWriter, r *http.Request, dst any) (int, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, errors.New("Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return http.StatusRequestEntityTooLarge, errors.New("body too large")
		}
		return http.StatusBadRequest, fmt.Errorf("bad JSON body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return http.StatusBadRequest, errors.New("bad JSON body: trailing data")
	}
	return 0, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
