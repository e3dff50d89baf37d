package handler_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// historyEnv is an env whose Settler and PreOrders record to its memstore.
func historyEnv(t *testing.T, opt envOptions) *env {
	t.Helper()
	mem := memstore.New()
	opt.wrap = func(*memstore.Store) store.OrderStore { return mem }
	if opt.inbox == nil {
		opt.inbox = mem
	}
	if opt.events == nil {
		opt.events = mem
	}
	e := newEnv(t, opt)
	e.Mem = mem
	return e
}

// flush waits for e's inbox and history writes in flight.
func (e *env) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Settler.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func inboxItems(t *testing.T, in store.InboxStore) []*store.InboxItem {
	t.Helper()
	items, err := in.ListInbox(context.Background(), store.InboxQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// postRaw posts body as a notification with a User-Agent, as the gateway does.
func (e *env) postRaw(t *testing.T, body string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.Server.URL+"/notify", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", formType)
	req.Header.Set("User-Agent", "gateway-notifier/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return readAll(t, resp)
}

// TestInboxKeepsVerifiedNotification: a verified notification is kept
// with its exact bytes, its content type and user agent, the instance,
// the outcome and the reply, and it is the attempt's notified event.
func TestInboxKeepsVerifiedNotification(t *testing.T) {
	e := historyEnv(t, envOptions{})
	o := e.CreatePending(t, "INBOX00001", mchA, model.V2, 1999)
	body := signedNotification(t, o, keyFor(o), nil).Encode()
	if got := e.postRaw(t, body); got != "success" {
		t.Fatalf("reply: got %q, want success", got)
	}
	e.flush(t)
	items := inboxItems(t, e.Mem)
	if len(items) != 1 {
		t.Fatalf("inbox holds %d items, want 1", len(items))
	}
	it := items[0]
	if string(it.Body) != body || it.ContentType != formType || !strings.Contains(it.Headers, "User-Agent: gateway-notifier/1.0") ||
		it.Instance != "test-host" || it.OutTradeNo != o.OutTradeNo || it.Amount != 1999 ||
		it.Outcome != "settled" || it.Reply != "success" || it.Status != http.StatusOK || it.Err != "" {
		t.Fatalf("kept item: %+v\nwant the posted body byte for byte, settled, success", it)
	}
	h, err := handler.LoadHistory(context.Background(), e.Mem, e.Mem, o.OutTradeNo)
	if err != nil {
		t.Fatal(err)
	}
	if h.Order.Status != store.Paid || len(h.Events) != 1 || h.Events[0].Kind != store.EventNotified ||
		h.Events[0].InboxID != it.ID || h.Events[0].Outcome != "settled" {
		t.Fatalf("history: order %s, events %+v; want PAID, one notified event settled", h.Order.Status, h.Events)
	}
}

// TestInboxForgedFloodCostsNoRow: a flood of notifications whose sign
// does not verify — unsigned, badly signed, signed with another
// merchant's key, re-cut, junk — adds no inbox row and no event.
func TestInboxForgedFloodCostsNoRow(t *testing.T) {
	e := historyEnv(t, envOptions{})
	o := e.CreatePending(t, "INBOX00002", mchA, model.V2, 1999)
	genuine := signedNotification(t, o, keyFor(o), nil)
	forgeries := []string{
		"junk=%ZZ",
		"out_trade_no=" + o.OutTradeNo,
	}
	unsigned := url.Values{}
	for k, v := range genuine {
		if k != "sign" {
			unsigned[k] = v
		}
	}
	forgeries = append(forgeries, unsigned.Encode())
	bad := url.Values{}
	for k, v := range genuine {
		bad[k] = v
	}
	bad.Set("sign", strings.Repeat("A", len(genuine.Get("sign"))))
	forgeries = append(forgeries, bad.Encode())
	forgeries = append(forgeries, signedNotification(t, o, keyB, nil).Encode()) // another merchant's key
	recut := url.Values{}
	for k, v := range genuine {
		recut[k] = v
	}
	recut.Set("total_fee", "1") // the amount changed under the genuine sign
	forgeries = append(forgeries, recut.Encode())
	for i := 0; i < 200; i++ {
		if got := e.postRaw(t, forgeries[i%len(forgeries)]); got == "success" {
			t.Fatalf("forgery %d answered success", i%len(forgeries))
		}
	}
	e.flush(t)
	if items := inboxItems(t, e.Mem); len(items) != 0 {
		t.Fatalf("after a flood of 200 forged notifications the inbox holds %d items (first: %+v), want 0", len(items), items[0])
	}
	if evs, _ := e.Mem.ListEvents(context.Background(), o.OutTradeNo); len(evs) != 0 {
		t.Fatalf("after the flood the attempt has %d events, want 0", len(evs))
	}
	if e.Get(t, o.OutTradeNo).Status != store.Pending {
		t.Fatal("a forgery changed the attempt")
	}
}

// TestInboxCountsMemoCopies: copies answered from the duplicate memo are
// not kept again; the Reconciler's pass adds them to the kept item.
func TestInboxCountsMemoCopies(t *testing.T) {
	e := historyEnv(t, envOptions{})
	o := e.CreatePending(t, "INBOX00003", mchA, model.V2, 1999)
	body := signedNotification(t, o, keyFor(o), nil).Encode()
	for i := 0; i < 7; i++ { // settled, duplicate (the memo learns it once it is kept), then 5 from the memo
		if got := e.postRaw(t, body); got != "success" {
			t.Fatalf("copy %d: got %q, want success", i, got)
		}
		if i < 2 {
			e.flush(t)
		}
	}
	items := inboxItems(t, e.Mem)
	if len(items) != 2 || items[0].Outcome != "duplicate" || items[1].Outcome != "settled" {
		t.Fatalf("inbox: %d items; want 2 (settled, then the duplicate the memo learnt from)", len(items))
	}
	if err := e.reconciler(t, model.V2).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := e.Mem.GetInbox(context.Background(), items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Copies != 5 {
		t.Fatalf("after a pass the duplicate's item counts %d copies, want 5", got.Copies)
	}
	if n := len(inboxItems(t, e.Mem)); n != 2 {
		t.Fatalf("after the pass the inbox holds %d items, want 2", n)
	}
}

// failingHistory is an inbox and history whose writes all fail.
type failingHistory struct{ *memstore.Store }

func (failingHistory) AddInbox(context.Context, *store.InboxItem) (int64, error) {
	return 0, errInjected
}

func (failingHistory) AddEvent(context.Context, *store.Event) error { return errInjected }

func (failingHistory) AddInboxBatch(context.Context, []*store.InboxItem) ([]int64, error) {
	return nil, errInjected
}

func (failingHistory) AddEvents(context.Context, []*store.Event) error { return errInjected }

// TestHistoryFailureChangesNothing: when the inbox and the history cannot
// be written, the notification is still settled and answered success,
// the query path still settles, and each failure is reported as an
// Event with SourceHistory (what kitprom counts).
func TestHistoryFailureChangesNothing(t *testing.T) {
	broken := failingHistory{memstore.New()}
	e := historyEnv(t, envOptions{inbox: broken, events: broken})
	o := e.CreatePending(t, "INBOX00004", mchA, model.V2, 1999)
	if got := e.PostNotify(t, signedNotification(t, o, keyFor(o), nil)); got != "success" {
		t.Fatalf("reply with a failing inbox: got %q, want success", got)
	}
	if got := e.Get(t, o.OutTradeNo); got.Status != store.Paid || !got.Fulfilled {
		t.Fatalf("with a failing inbox the attempt is %s fulfilled=%v, want PAID and fulfilled", got.Status, got.Fulfilled)
	}
	// The query path: paid at the gateway, its notification lost.
	e.AddOrder("INBOXBIZ5", mchA, 500)
	otn := e.MustPreOrder(t, model.V2, "INBOXBIZ5", model.PayWeChat)
	e.Sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(10 * time.Second)
	if err := e.reconciler(t, model.V2).RunOnce(context.Background()); err != nil {
		t.Fatalf("a pass with a failing history: %v", err)
	}
	if got := e.Get(t, otn); got.Status != store.Paid {
		t.Fatalf("with a failing history the queried attempt is %s, want PAID", got.Status)
	}
	e.flush(t)
	var failures int
	for _, ev := range e.Rec.Events() {
		if ev.Source == handler.SourceHistory {
			if ev.Outcome != handler.StoreError || ev.Err == nil {
				t.Errorf("history event %+v: want StoreError with an error", ev)
			}
			failures++
		}
	}
	if failures < 2 {
		t.Fatalf("%d history failures reported, want one per failed write (at least the inbox's and the query's)", failures)
	}
}

// TestHistoryExplainsAttempt: one call tells why an attempt is PAID when
// its notification was lost: created, pre-ordered, queried (the gateway
// said SUCCESS, and it settled), and why another is CLOSED.
func TestHistoryExplainsAttempt(t *testing.T) {
	e := historyEnv(t, envOptions{})
	e.AddOrder("HISTBIZ1", mchA, 1234)
	otn := e.MustPreOrder(t, model.V2, "HISTBIZ1", model.PayWeChat)
	e.Sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(10 * time.Second)
	r := e.reconciler(t, model.V2)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	h, err := handler.LoadHistory(context.Background(), e.Mem, e.Mem, otn)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range h.Events {
		kinds = append(kinds, string(ev.Kind)+":"+ev.Outcome)
	}
	want := "created:ok preordered:ok queried:settled"
	if h.Order.Status != store.Paid || strings.Join(kinds, " ") != want {
		t.Fatalf("history of %s (%s): %v; want PAID with %s", otn, h.Order.Status, kinds, want)
	}
	q := h.Events[2]
	if q.Source != string(handler.SourceQuery) || q.Amount != 1234 || !strings.Contains(q.Detail, "trade_state=SUCCESS") {
		t.Fatalf("queried event %+v: want source query, amount 1234, the gateway's trade_state", q)
	}

	// An attempt the gateway reports closed.
	e.AddOrder("HISTBIZ2", mchA, 50)
	closed := e.MustPreOrder(t, model.V2, "HISTBIZ2", model.PayWeChat)
	if _, err := e.Clients[model.V2].Cancel(context.Background(), &model.CancelRequest{PayType: model.PayWeChat, MchID: mchA, OutTradeNo: closed}); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(10 * time.Second)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	h, err = handler.LoadHistory(context.Background(), e.Mem, e.Mem, closed)
	if err != nil {
		t.Fatal(err)
	}
	last := h.Events[len(h.Events)-1]
	if h.Order.Status != store.Closed || last.Kind != store.EventClosed || last.Detail == "" {
		t.Fatalf("history of %s (%s): last event %+v; want CLOSED with a closed event and its reason", closed, h.Order.Status, last)
	}
}

// TestHistoryRetentionInBatches: each Reconciler pass deletes at most
// HistoryBatch rows older than HistoryRetention from the inbox and from
// the history, oldest first; younger rows stay.
func TestHistoryRetentionInBatches(t *testing.T) {
	e := historyEnv(t, envOptions{})
	ctx := context.Background()
	now := e.Clock.Now()
	for i := 0; i < 5; i++ {
		old := now.Add(-48*time.Hour + time.Duration(i)*time.Minute)
		if _, err := e.Mem.AddInbox(ctx, &store.InboxItem{ReceivedAt: old, OutTradeNo: "OLDA00001", Reply: "success"}); err != nil {
			t.Fatal(err)
		}
		if err := e.Mem.AddEvent(ctx, &store.Event{OutTradeNo: "OLDA00002", At: old, Kind: store.EventCreated}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		young := now.Add(-time.Hour)
		if _, err := e.Mem.AddInbox(ctx, &store.InboxItem{ReceivedAt: young, OutTradeNo: "NEWA00001", Reply: "success"}); err != nil {
			t.Fatal(err)
		}
		if err := e.Mem.AddEvent(ctx, &store.Event{OutTradeNo: "NEWA00002", At: young, Kind: store.EventCreated}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Now: e.Clock.Now,
		Scheduler: e.Mem, HistoryRetention: 24 * time.Hour, HistoryBatch: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	count := func() (oldItems, newItems, oldEvents, newEvents int) {
		for _, it := range inboxItems(t, e.Mem) {
			if it.OutTradeNo == "OLDA00001" {
				oldItems++
			} else {
				newItems++
			}
		}
		o, _ := e.Mem.ListEvents(ctx, "OLDA00002")
		n, _ := e.Mem.ListEvents(ctx, "NEWA00002")
		return oldItems, newItems, len(o), len(n)
	}
	for pass, wantOld := range []int{3, 1, 0, 0} {
		if err := r.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		oi, ni, oe, ne := count()
		if oi != wantOld || oe != wantOld || ni != 3 || ne != 3 {
			t.Fatalf("after pass %d: old items %d, old events %d, young items %d, young events %d; want %d old of each, 3 young of each",
				pass+1, oi, oe, ni, ne, wantOld)
		}
	}
}
