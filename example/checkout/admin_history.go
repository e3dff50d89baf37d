package main

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
)

// inboxPage is how many inbox items one GET /admin/inbox returns at most.
const inboxPage = 50

// historyRoutes mounts the back office's evidence: the inbox of verified
// notifications and each attempt's event history.
func (a *app) historyRoutes(admin func(pattern string, h http.HandlerFunc)) {
	admin("GET /admin/inbox", a.listInbox)
	admin("GET /admin/inbox/{id}", a.getInbox)
	admin("GET /admin/attempts/{out_trade_no}/events", a.listEvents)
}

// inboxItem is an inbox item as the back office shows it. The list leaves
// the body out; GET /admin/inbox/{id} has it, as the text it arrived as.
type inboxItem struct {
	ID          int64     `json:"id"`
	ReceivedAt  time.Time `json:"received_at"`
	Instance    string    `json:"instance"`
	OutTradeNo  string    `json:"out_trade_no"`
	Amount      int64     `json:"amount"`
	ContentType string    `json:"content_type"`
	RemoteAddr  string    `json:"remote_addr"`
	Headers     string    `json:"headers,omitempty"`
	Outcome     string    `json:"outcome"`
	Reply       string    `json:"reply"`
	Status      int       `json:"status"`
	Err         string    `json:"err,omitempty"`
	Copies      int64     `json:"copies"`
	Body        *string   `json:"body,omitempty"`
}

func inboxJSON(it *store.InboxItem, withBody bool) inboxItem {
	v := inboxItem{
		ID: it.ID, ReceivedAt: it.ReceivedAt, Instance: it.Instance, OutTradeNo: it.OutTradeNo, Amount: it.Amount,
		ContentType: it.ContentType, RemoteAddr: it.RemoteAddr, Headers: it.Headers,
		Outcome: it.Outcome, Reply: it.Reply, Status: it.Status, Err: it.Err, Copies: it.Copies,
	}
	if withBody {
		b := string(it.Body)
		v.Body = &b
	}
	return v
}

// noHistory answers 501 when the store keeps no inbox or history.
func noHistory(w http.ResponseWriter, what string) {
	writeProblem(w, http.StatusNotImplemented, "this shop's store keeps no "+what)
}

// listInbox lists verified notifications, newest first: ?failed=1 only
// those answered other than success, ?out_trade_no= one attempt's,
// ?before=ID the page after the one that ended at ID.
func (a *app) listInbox(w http.ResponseWriter, r *http.Request) {
	if a.inbox == nil {
		noHistory(w, "inbox")
		return
	}
	q := r.URL.Query()
	iq := store.InboxQuery{FailedOnly: q.Get("failed") == "1", OutTradeNo: q.Get("out_trade_no"), Limit: inboxPage}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			writeProblem(w, http.StatusBadRequest, "before must be an inbox id")
			return
		}
		iq.Before = n
	}
	items, err := a.inbox.ListInbox(r.Context(), iq)
	if err != nil {
		a.log.ErrorContext(r.Context(), "checkout: inbox lookup failed", slog.String("err", err.Error()))
		writeProblem(w, http.StatusInternalServerError, "inbox lookup failed")
		return
	}
	out := make([]inboxItem, 0, len(items))
	for _, it := range items {
		out = append(out, inboxJSON(it, false))
	}
	writeJSON(w, http.StatusOK, out)
}

// getInbox shows one inbox item with its body.
func (a *app) getInbox(w http.ResponseWriter, r *http.Request) {
	if a.inbox == nil {
		noHistory(w, "inbox")
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeProblem(w, http.StatusBadRequest, "the inbox id is a positive number")
		return
	}
	it, err := a.inbox.GetInbox(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "no inbox item "+strconv.FormatInt(id, 10))
	case err != nil:
		a.log.ErrorContext(r.Context(), "checkout: inbox lookup failed", slog.String("err", err.Error()))
		writeProblem(w, http.StatusInternalServerError, "inbox lookup failed")
	default:
		writeJSON(w, http.StatusOK, inboxJSON(it, true))
	}
}

// attemptEvent is one entry of an attempt's history.
type attemptEvent struct {
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	Source   string    `json:"source"`
	Outcome  string    `json:"outcome,omitempty"`
	Amount   int64     `json:"amount,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	Instance string    `json:"instance,omitempty"`
	InboxID  int64     `json:"inbox_id,omitempty"`
}

// listEvents answers "why is this attempt PAID (or CLOSED)?": its
// history, oldest first, with its kept notifications.
func (a *app) listEvents(w http.ResponseWriter, r *http.Request) {
	if a.events == nil {
		noHistory(w, "event history")
		return
	}
	h, err := handler.LoadHistory(r.Context(), a.store, a.events, r.PathValue("out_trade_no"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "no payment "+r.PathValue("out_trade_no"))
		return
	case err != nil:
		a.log.ErrorContext(r.Context(), "checkout: history lookup failed", slog.String("err", err.Error()))
		writeProblem(w, http.StatusInternalServerError, "history lookup failed")
		return
	}
	out := make([]attemptEvent, 0, len(h.Events))
	for _, e := range h.Events {
		out = append(out, attemptEvent{At: e.At, Kind: string(e.Kind), Source: e.Source, Outcome: e.Outcome,
			Amount: e.Amount, Detail: e.Detail, Instance: e.Instance, InboxID: e.InboxID})
	}
	writeJSON(w, http.StatusOK, out)
}
