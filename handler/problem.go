package handler

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// problem is an RFC 9457 problem detail. Code and Msg carry the gateway's
// code and msg when the gateway refused a call.
type problem struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Status     int    `json:"status"`
	Detail     string `json:"detail,omitempty"`
	OutTradeNo string `json:"out_trade_no,omitempty"`
	Code       string `json:"code,omitempty"`
	Msg        string `json:"msg,omitempty"`
	// retryAfter, when positive, is sent as Retry-After in whole seconds
	// (rounded up).
	retryAfter time.Duration
}

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, p problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((p.retryAfter+time.Second-1)/time.Second), 10))
	}
	if p.Status == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
		h.Set("Allow", http.MethodPost)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes v as application/json.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// kitPrefixes strips the kit's package prefixes from an error message.
var kitPrefixes = strings.NewReplacer("handler: ", "", "client: ", "", "model: ", "")

// publicDetail is err's message as a buyer may read it: without the Go
// package prefixes ("handler: order not payable") that help in a log and
// mean nothing to a buyer. Only errors whose whole text is meant for the
// buyer may go through it: a Resolve sentinel wrapped with the host's
// reason, or the client's refusal of a field the buyer supplied.
func publicDetail(err error) string { return kitPrefixes.Replace(err.Error()) }
