package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// SourceHistory is the Source of an Event that reports a failed write to
// the inbox or the event history (Outcome StoreError, Err why). The
// history is evidence, not state: such a failure is logged and counted
// and changes nothing else — not the reply to the gateway, not the
// attempt, not the fulfilment.
const SourceHistory Source = "history"

// historyWriteFor bounds one write to the inbox or the history, so that
// a store that hangs delays a reply by at most this long and never makes
// it fail.
const historyWriteFor = time.Second

// DefaultHistoryRetention is how long the inbox and the history keep what
// they record unless ReconcilerConfig.HistoryRetention says otherwise.
const DefaultHistoryRetention = 30 * 24 * time.Hour

// hostName is the default instance name: the host's name, read once.
var hostName = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
})

// recorder keeps verified notifications in the inbox and writes the
// attempts' events. Its writes never decide anything: when one fails it
// logs, reports an Event with SourceHistory, and returns.
type recorder struct {
	inbox    store.InboxStore // nil: no inbox
	events   store.EventStore // nil: no history
	instance string
	log      *slog.Logger
	emit     func(Event)

	mu     sync.Mutex
	copies map[int64]int64 // inbox ID -> copies answered from the memo, not yet written

	// slots bounds the inbox writes running after their reply; inflight
	// counts every write running apart from its caller, for Flush.
	slots    chan struct{}
	inflight sync.WaitGroup
}

// inboxWritesInFlight bounds the inbox writes that run after their
// notification was answered. When all are busy (the store is slow) the
// next one is written before its reply instead: slower replies, never an
// unbounded pile of goroutines or a lost row.
const inboxWritesInFlight = 64

// newRecorder returns a recorder, or nil when there is nothing to record to.
func newRecorder(inbox store.InboxStore, events store.EventStore, instance string, log *slog.Logger, emit func(Event)) *recorder {
	if inbox == nil && events == nil {
		return nil
	}
	if instance == "" {
		instance = hostName()
	}
	return &recorder{inbox: inbox, events: events, instance: instance, log: log, emit: emit,
		copies: map[int64]int64{}, slots: make(chan struct{}, inboxWritesInFlight)}
}

// writeCtx is the context of one history write: apart from the caller's
// end (the evidence is worth writing after a reply went out), bounded.
func writeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), historyWriteFor)
}

// failed reports a failed history write.
func (h *recorder) failed(ctx context.Context, what, outTradeNo string, err error) {
	h.log.LogAttrs(ctx, slog.LevelWarn, "handler: history not recorded; the payment's handling is unchanged",
		slog.String("what", what), slog.String("out_trade_no", outTradeNo), slog.String("err", err.Error()))
	if h.emit != nil {
		h.emit(Event{Outcome: StoreError, OutTradeNo: outTradeNo, Source: SourceHistory,
			Err: fmt.Errorf("handler: %s: %w", what, err)})
	}
}

// record writes one event of an attempt's history, if there is a history.
func (h *recorder) record(ctx context.Context, e store.Event) {
	if h == nil || h.events == nil {
		return
	}
	e.Instance = h.instance
	wctx, cancel := writeCtx(ctx)
	defer cancel()
	if err := h.events.AddEvent(wctx, &e); err != nil {
		h.failed(ctx, "record "+string(e.Kind), e.OutTradeNo, err)
	}
}

// headersKept are the request headers an inbox item keeps besides the
// content type: who sent it, and through which proxies.
var headersKept = []string{"User-Agent", "X-Forwarded-For", "X-Real-Ip", "Forwarded", "X-Request-Id"}

// background runs fn apart from its caller, counted for Flush.
func (h *recorder) background(fn func()) {
	h.inflight.Add(1)
	go func() {
		defer h.inflight.Done()
		fn()
	}()
}

// keep puts a verified notification in the inbox, then calls done with
// its ID (0 when there is no inbox or the write failed). The row is
// written after the reply, off the request's path when a slot is free, so
// that the evidence costs the gateway's answer nothing; a process that
// dies in between loses it (Settler.Flush waits for the writes in
// flight).
func (h *recorder) keep(r *http.Request, body []byte, res *result, at time.Time, done func(id int64)) {
	if h == nil || h.inbox == nil {
		done(0)
		return
	}
	var hdr strings.Builder
	for _, name := range headersKept {
		for _, v := range r.Header[name] {
			if hdr.Len() > 0 {
				hdr.WriteByte('\n')
			}
			hdr.WriteString(name + ": " + v)
		}
	}
	it := &store.InboxItem{
		ReceivedAt: at, Instance: h.instance, OutTradeNo: res.outTradeNo,
		ContentType: r.Header.Get("Content-Type"), RemoteAddr: r.RemoteAddr, Headers: hdr.String(),
		Body: body, Outcome: res.outcome.String(), Reply: store.ReplySuccess, Status: http.StatusOK,
	}
	if fee := res.values.Get("total_fee"); fee != "" {
		it.Amount, _ = model.ParseNumber(fee) // held to its shape when it verified; 0 otherwise
	}
	if res.err != nil {
		it.Reply, it.Status, it.Err = string(replyFail), res.status, res.err.Error()
	}
	reqCtx, otn := r.Context(), res.outTradeNo
	write := func() {
		ctx, cancel := writeCtx(reqCtx)
		id, err := h.inbox.AddInbox(ctx, it)
		cancel()
		if err != nil {
			h.failed(reqCtx, "keep the notification", otn, err)
		}
		done(id)
	}
	select {
	case h.slots <- struct{}{}:
		h.background(func() {
			defer func() { <-h.slots }()
			write()
		})
	default:
		write()
	}
}

// Flush waits until the inbox and history writes that run apart from
// their notification or alert are done, or ctx ends (then it returns
// ctx.Err()). Call it on shutdown, after the server stopped taking
// requests, so that no evidence is lost; tests call it before reading
// the inbox. Without an inbox or history it returns at once.
func (s *Settler) Flush(ctx context.Context) error {
	h := s.hist
	if h == nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		h.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// countCopy counts a copy of inbox item id answered from the duplicate
// memo. It only adds to a map: the memo's answer stays free of store
// calls, and the reconciler's pass writes the counts (flushCopies).
func (h *recorder) countCopy(id int64) {
	h.mu.Lock()
	h.copies[id]++
	h.mu.Unlock()
}

// flushCopies writes the counted copies to their inbox items. Counts
// whose write fails are dropped, not retried: they are evidence, and an
// item pruned meanwhile would fail for ever.
func (h *recorder) flushCopies(ctx context.Context) {
	if h == nil || h.inbox == nil {
		return
	}
	h.mu.Lock()
	pending := h.copies
	if len(pending) == 0 {
		h.mu.Unlock()
		return
	}
	h.copies = make(map[int64]int64, len(pending))
	h.mu.Unlock()
	for id, n := range pending {
		wctx, cancel := writeCtx(ctx)
		err := h.inbox.AddInboxCopies(wctx, id, n)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.failed(ctx, "count copies", "", err)
		}
	}
}

// prune deletes one batch of each of the inbox and the history older
// than before.
func (h *recorder) prune(ctx context.Context, before time.Time, batch int) {
	if h == nil {
		return
	}
	if h.inbox != nil {
		if _, err := h.inbox.PruneInbox(ctx, before, batch); err != nil {
			h.failed(ctx, "prune the inbox", "", err)
		}
	}
	if h.events != nil {
		if _, err := h.events.PruneEvents(ctx, before, batch); err != nil {
			h.failed(ctx, "prune the history", "", err)
		}
	}
}

// alertEvent is the history's entry for an alert.
func alertEvent(a Alert, at time.Time) store.Event {
	return store.Event{
		OutTradeNo: a.OutTradeNo, At: at, Kind: store.EventAlert, Source: string(a.Source),
		Outcome: Mismatch.String(), Amount: a.GotAmount, Detail: a.String(),
	}
}

// History is one attempt as stored and what was recorded about it.
type History struct {
	// Order is the attempt now.
	Order *store.Order
	// Events is its history, oldest first, including its kept
	// notifications (store.EventNotified); empty without an EventStore.
	Events []*store.Event
}

// LoadHistory answers "why is this attempt PAID (or CLOSED)?" in one
// call: the attempt from orders and its history from events (nil means
// none; with sqlstore and memstore pass the same store). An unknown
// attempt is store.ErrNotFound.
func LoadHistory(ctx context.Context, orders store.OrderStore, events store.EventStore, outTradeNo string) (*History, error) {
	o, err := orders.Get(ctx, outTradeNo)
	if err != nil {
		return nil, err
	}
	h := &History{Order: o, Events: []*store.Event{}}
	if events != nil {
		if h.Events, err = events.ListEvents(ctx, outTradeNo); err != nil {
			return nil, err
		}
	}
	return h, nil
}
