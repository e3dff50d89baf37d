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

	"github.com/cypaykit/kit/internal/batchq"
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
//
// The rows written after a reply (inbox items, alerts' events) go to a
// bounded queue that one background writer drains in batches: with a
// store.InboxBatcher (and store.EventBatcher), each batch is one
// multi-row INSERT, one statement and one commit, instead of one per
// notification. The writer runs only while the queue has rows.
type recorder struct {
	inbox    store.InboxStore // nil: no inbox
	events   store.EventStore // nil: no history
	instance string
	log      *slog.Logger
	emit     func(Event)

	mu     sync.Mutex
	copies map[int64]int64 // inbox ID -> copies answered from the memo, not yet written

	q        *batchq.Queue[historyRow] // rows written after their reply
	writeFor time.Duration             // bounds each write: historyWriteFor
}

// historyRow is one row waiting for the writer: an inbox item (done
// learns its ID) or an event.
type historyRow struct {
	item *store.InboxItem
	done func(id int64)
	ev   *store.Event
}

// size is what the row counts against the queue's and a batch's bytes.
func (r historyRow) size() int {
	if r.item != nil {
		return len(r.item.Body) + len(r.item.Headers) + len(r.item.Err) + 256
	}
	return len(r.ev.Detail) + 128
}

// defaultHistoryLimits: 4096 rows or 32 MiB wait at most (bodies are up
// to NotifyConfig.MaxBody each); a batch is at most 64 rows or 1 MiB,
// which stays within every SQL dialect's placeholder limit and MariaDB's
// default max_allowed_packet.
var defaultHistoryLimits = batchq.Limits{Rows: 4096, Bytes: 32 << 20, BatchRows: 64, BatchBytes: 1 << 20}

// ErrHistoryQueueFull is the Err of the Event (Source SourceHistory,
// Outcome StoreError) reported for an inbox item or event that was not
// kept because the queue of rows waiting for the store was full: the
// store is slower than the notifications arrive. The reply is never
// held or failed for it; the row is dropped and counted.
var ErrHistoryQueueFull = errors.New("handler: history queue full (the store is slower than the notifications): row dropped")

// newRecorder returns a recorder, or nil when there is nothing to record to.
func newRecorder(inbox store.InboxStore, events store.EventStore, instance string, log *slog.Logger, emit func(Event)) *recorder {
	if inbox == nil && events == nil {
		return nil
	}
	if instance == "" {
		instance = hostName()
	}
	h := &recorder{inbox: inbox, events: events, instance: instance, log: log, emit: emit,
		copies: map[int64]int64{}, writeFor: historyWriteFor}
	h.q = h.newQueue(defaultHistoryLimits)
	return h
}

// newQueue returns a queue, bounded by lim, whose writer is h's.
func (h *recorder) newQueue(lim batchq.Limits) *batchq.Queue[historyRow] {
	return batchq.New(lim, historyRow.size, h.write, func(lost int64) {
		h.log.LogAttrs(context.Background(), slog.LevelWarn, "handler: history queue drained",
			slog.Int64("dropped", lost))
	})
}

// writeCtx is the context of one history write: apart from the caller's
// end (the evidence is worth writing after a reply went out), bounded.
func (h *recorder) writeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), h.writeFor)
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
	wctx, cancel := h.writeCtx(ctx)
	defer cancel()
	if err := h.events.AddEvent(wctx, &e); err != nil {
		h.failed(ctx, "record "+string(e.Kind), e.OutTradeNo, err)
	}
}

// headersKept are the request headers an inbox item keeps besides the
// content type: who sent it, and through which proxies.
var headersKept = []string{"User-Agent", "X-Forwarded-For", "X-Real-Ip", "Forwarded", "X-Request-Id"}

// enqueue hands row to the background writer. When the queue is full
// the row is dropped: reported as an Event with ErrHistoryQueueFull,
// logged once until the queue drains, and an item's done learns ID 0. It
// never blocks.
func (h *recorder) enqueue(row historyRow) {
	ok, first := h.q.Add(row)
	if ok {
		return
	}
	otn := ""
	if row.item != nil {
		otn = row.item.OutTradeNo
	} else {
		otn = row.ev.OutTradeNo
	}
	if first {
		h.log.LogAttrs(context.Background(), slog.LevelWarn,
			"handler: history queue full; dropping inbox items and events until it drains (the payments' handling is unchanged)",
			slog.Int("queue_rows", h.q.Limits().Rows), slog.String("out_trade_no", otn))
	}
	if h.emit != nil {
		h.emit(Event{Outcome: StoreError, OutTradeNo: otn, Source: SourceHistory, Err: ErrHistoryQueueFull})
	}
	if row.done != nil {
		row.done(0)
	}
}

// write stores one batch: its inbox items with one AddInboxBatch and its
// events with one AddEvents where the stores have them, else row by row.
func (h *recorder) write(batch []historyRow) {
	var items []historyRow
	var evs []*store.Event
	for _, r := range batch {
		if r.item != nil {
			items = append(items, r)
		} else {
			evs = append(evs, r.ev)
		}
	}
	if len(items) > 0 {
		h.writeItems(items)
	}
	if len(evs) > 0 {
		h.writeEvents(evs)
	}
}

// writeItems keeps items in the inbox and tells each its ID. A batch
// that fails for another reason than its time running out is written
// again row by row, so that one row the database refuses (a header's
// bytes that are not UTF-8, say) costs only itself.
func (h *recorder) writeItems(items []historyRow) {
	if b, ok := h.inbox.(store.InboxBatcher); ok && len(items) > 1 {
		its := make([]*store.InboxItem, len(items))
		for i, r := range items {
			its[i] = r.item
		}
		ctx, cancel := h.writeCtx(context.Background())
		ids, err := b.AddInboxBatch(ctx, its)
		cancel()
		if err == nil && len(ids) != len(items) {
			err = fmt.Errorf("AddInboxBatch returned %d IDs for %d items", len(ids), len(items))
		}
		if err == nil {
			for i, r := range items {
				r.done(ids[i])
			}
			return
		}
		if errors.Is(err, context.DeadlineExceeded) {
			for _, r := range items {
				h.failed(context.Background(), "keep the notification", r.item.OutTradeNo, err)
				r.done(0)
			}
			return
		}
	}
	for _, r := range items {
		ctx, cancel := h.writeCtx(context.Background())
		id, err := h.inbox.AddInbox(ctx, r.item)
		cancel()
		if err != nil {
			h.failed(context.Background(), "keep the notification", r.item.OutTradeNo, err)
		}
		r.done(id)
	}
}

// writeEvents records evs, as writeItems keeps items.
func (h *recorder) writeEvents(evs []*store.Event) {
	if b, ok := h.events.(store.EventBatcher); ok && len(evs) > 1 {
		ctx, cancel := h.writeCtx(context.Background())
		err := b.AddEvents(ctx, evs)
		cancel()
		if err == nil {
			return
		}
		if errors.Is(err, context.DeadlineExceeded) {
			for _, e := range evs {
				h.failed(context.Background(), "record "+string(e.Kind), e.OutTradeNo, err)
			}
			return
		}
	}
	for _, e := range evs {
		ctx, cancel := h.writeCtx(context.Background())
		err := h.events.AddEvent(ctx, e)
		cancel()
		if err != nil {
			h.failed(context.Background(), "record "+string(e.Kind), e.OutTradeNo, err)
		}
	}
}

// recordLater queues e for the background writer, if there is a
// history: for events raised on a reply's path.
func (h *recorder) recordLater(e store.Event) {
	if h == nil || h.events == nil {
		return
	}
	e.Instance = h.instance
	h.enqueue(historyRow{ev: &e})
}

// keep puts a verified notification in the inbox, then calls done with
// its ID (0 when there is no inbox, the write failed or the queue was
// full). The row is queued for the background writer, off the request's
// path, so that the evidence costs the gateway's answer nothing; a
// process that dies before it is written loses it (Settler.Flush waits
// for the queue).
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
	h.enqueue(historyRow{item: it, done: done})
}

// Flush waits until the inbox items and events queued for the
// background writer (those of notifications already answered, and of
// alerts) are written, or ctx ends (then it returns ctx.Err()). Call it
// on shutdown, after the server stopped taking requests, so that no
// evidence is lost; tests call it before reading the inbox. Without an
// inbox or history it returns at once. The writer stops by itself when
// the queue is empty: there is nothing to close.
func (s *Settler) Flush(ctx context.Context) error {
	if s.hist == nil {
		return nil
	}
	return s.hist.q.Wait(ctx)
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
		wctx, cancel := h.writeCtx(ctx)
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
