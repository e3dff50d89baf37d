package handler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/internal/batchq"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// gatedInbox is an inbox (a memstore) that records the size of every
// write and can hold writes until the test lets them go: the writer's
// batches are then decided by what was queued meanwhile, not by timing.
type gatedInbox struct {
	store.InboxStore // the memstore, as an InboxStore only: no AddInboxBatch
	mem              *memstore.Store

	mu      sync.Mutex
	sizes   []int         // rows per write, in order
	gate    chan struct{} // non-nil: each write waits for a receive
	entered chan struct{} // each write sends here first, when non-nil
	poison  string        // AddInboxBatch fails when an item has this out_trade_no, AddInbox for that item
}

func (g *gatedInbox) wait(ctx context.Context) error {
	if g.entered != nil {
		g.entered <- struct{}{}
	}
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (g *gatedInbox) AddInbox(ctx context.Context, it *store.InboxItem) (int64, error) {
	if err := g.wait(ctx); err != nil {
		return 0, err
	}
	g.mu.Lock()
	g.sizes = append(g.sizes, 1)
	g.mu.Unlock()
	if g.poison != "" && it.OutTradeNo == g.poison {
		return 0, errors.New("poisoned row")
	}
	return g.mem.AddInbox(ctx, it)
}

func (g *gatedInbox) written() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

// batchingInbox is a gatedInbox that is a store.InboxBatcher.
type batchingInbox struct{ *gatedInbox }

func (g batchingInbox) AddInboxBatch(ctx context.Context, items []*store.InboxItem) ([]int64, error) {
	if err := g.wait(ctx); err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.sizes = append(g.sizes, len(items))
	g.mu.Unlock()
	for _, it := range items {
		if g.poison != "" && it.OutTradeNo == g.poison {
			return nil, errors.New("poisoned batch")
		}
	}
	return g.mem.AddInboxBatch(ctx, items)
}

// testRecorder is a recorder over inbox with limits, its logs in logs and
// its Events in events.
type testRecorder struct {
	*recorder
	logs   *syncBuffer
	mu     sync.Mutex
	events []Event
	ids    map[string]int64 // out_trade_no -> ID its done learnt
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newTestRecorder(inbox store.InboxStore, events store.EventStore, lim batchq.Limits) *testRecorder {
	tr := &testRecorder{logs: &syncBuffer{}, ids: map[string]int64{}}
	tr.recorder = newRecorder(inbox, events, "host-1", slog.New(slog.NewTextHandler(tr.logs, nil)), func(e Event) {
		tr.mu.Lock()
		tr.events = append(tr.events, e)
		tr.mu.Unlock()
	})
	// A held write must stay held until the test opens it, however slow
	// the machine: far beyond any test's own bound.
	tr.writeFor = 10 * time.Minute
	tr.q = tr.newQueue(lim)
	return tr
}

// add queues the inbox item of out_trade_no otn with a body of size n.
func (tr *testRecorder) add(otn string, n int) {
	it := &store.InboxItem{ReceivedAt: time.Now(), OutTradeNo: otn, Body: bytes.Repeat([]byte("b"), n),
		Outcome: "settled", Reply: store.ReplySuccess, Status: 200}
	tr.enqueue(historyRow{item: it, done: func(id int64) {
		tr.mu.Lock()
		tr.ids[otn] = id
		tr.mu.Unlock()
	}})
}

func (tr *testRecorder) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := (&Settler{hist: tr.recorder}).Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func (tr *testRecorder) learnt() map[string]int64 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]int64{}
	for k, v := range tr.ids {
		out[k] = v
	}
	return out
}

// checkKept fails unless the inbox holds exactly the items named otns,
// each under the ID its done learnt.
func (tr *testRecorder) checkKept(t *testing.T, in store.InboxStore, otns []string) {
	t.Helper()
	items, err := in.ListInbox(context.Background(), store.InboxQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]int64{}
	for _, it := range items {
		kept[it.OutTradeNo] = it.ID
	}
	want := map[string]int64{}
	learnt := tr.learnt()
	for _, otn := range otns {
		want[otn] = learnt[otn]
	}
	if diff := cmp.Diff(want, kept); diff != "" {
		t.Fatalf("inbox: out_trade_no -> ID (-as done learnt +as kept):\n%s", diff)
	}
}

func otns(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("ROW%05d", i))
	}
	return out
}

// held returns an inbox whose first write waits, and a function that
// waits until that write has started: the rows queued after it are
// written together once the gate opens.
func held(batch bool) (store.InboxStore, *gatedInbox, func(t *testing.T)) {
	mem := memstore.New()
	g := &gatedInbox{InboxStore: mem, mem: mem, gate: make(chan struct{}), entered: make(chan struct{}, 1000)}
	var in store.InboxStore = g
	if batch {
		in = batchingInbox{g}
	}
	return in, g, func(t *testing.T) {
		t.Helper()
		select {
		case <-g.entered:
		case <-time.After(30 * time.Second):
			t.Fatal("the writer never started its first write")
		}
	}
}

func (g *gatedInbox) open() {
	close(g.gate)
}

// TestHistoryWriterBatchesRows: rows queued while a write is in flight go
// out together in the next, at most batchRows at a time, and each item's
// done learns the ID it was kept under. Plant killed: a writer that
// writes row by row (the batch bound taken as 1) or ignores batchRows.
func TestHistoryWriterBatchesRows(t *testing.T) {
	in, g, started := held(true)
	tr := newTestRecorder(in, nil, batchq.Limits{Rows: 100, Bytes: 1 << 20, BatchRows: 4, BatchBytes: 1 << 20})
	names := otns(0, 11)
	tr.add(names[0], 10)
	started(t) // the first write (one row) holds the writer
	for _, otn := range names[1:] {
		tr.add(otn, 10)
	}
	g.open()
	tr.flush(t)
	// The first row alone; then the ten queued meanwhile, 4 + 4 + 2.
	if diff := cmp.Diff([]int{1, 4, 4, 2}, g.written()); diff != "" {
		t.Fatalf("rows per write (-want +got):\n%s", diff)
	}
	tr.checkKept(t, in, names)
}

// TestHistoryWriterBatchBytes: a batch stops before the row that would
// take it past batchBytes, and a row larger than that goes alone rather
// than never. Plant killed: a batch cut by rows only.
func TestHistoryWriterBatchBytes(t *testing.T) {
	in, g, started := held(true)
	// A row of a 100-byte body counts 356 bytes: two fit in 800.
	tr := newTestRecorder(in, nil, batchq.Limits{Rows: 100, Bytes: 1 << 20, BatchRows: 64, BatchBytes: 800})
	names := otns(0, 7)
	tr.add(names[0], 100)
	started(t)
	tr.add(names[1], 100)
	tr.add(names[2], 100)
	tr.add(names[3], 100)
	tr.add(names[4], 5000) // alone: larger than a batch
	tr.add(names[5], 100)
	tr.add(names[6], 100)
	g.open()
	tr.flush(t)
	if diff := cmp.Diff([]int{1, 2, 1, 1, 2}, g.written()); diff != "" {
		t.Fatalf("rows per write (-want +got):\n%s", diff)
	}
	tr.checkKept(t, in, names)
}

// TestHistoryQueueFullDrops: when queueRows rows wait already, the next
// are dropped at once, never waited for: done learns 0 (the memo will
// not count copies on them), each drop is an Event with
// ErrHistoryQueueFull and SourceHistory, the log says so once, and again
// with the count when the queue has drained. The rows queued before are
// all kept. Plant killed: an enqueue that waits for room (this test's
// adds would hang on the held store: its bounded wait fails), or drops
// without an Event.
func TestHistoryQueueFullDrops(t *testing.T) {
	in, g, started := held(true)
	tr := newTestRecorder(in, nil, batchq.Limits{Rows: 3, Bytes: 1 << 20, BatchRows: 64, BatchBytes: 1 << 20})
	names := otns(0, 7)
	tr.add(names[0], 10)
	started(t) // taken off the queue: in flight, held
	added := make(chan struct{})
	go func() {
		for _, otn := range names[1:] { // 3 fit, 3 do not
			tr.add(otn, 10)
		}
		close(added)
	}()
	select {
	case <-added:
	case <-time.After(30 * time.Second):
		t.Fatal("adding to a full queue waited for the store")
	}
	learnt := tr.learnt()
	for _, otn := range names[4:] {
		if id, ok := learnt[otn]; !ok || id != 0 {
			t.Fatalf("dropped %s: done learnt %d (called: %v), want 0 at once", otn, id, ok)
		}
	}
	tr.mu.Lock()
	drops := 0
	for _, e := range tr.events {
		if e.Source == SourceHistory && e.Outcome == StoreError && errors.Is(e.Err, ErrHistoryQueueFull) {
			drops++
		}
	}
	tr.mu.Unlock()
	if drops != 3 {
		t.Fatalf("%d drop Events, want 3", drops)
	}
	if n := strings.Count(tr.logs.String(), "history queue full"); n != 1 {
		t.Fatalf("the queue-full warning was logged %d times, want once per episode:\n%s", n, tr.logs)
	}
	g.open()
	tr.flush(t)
	tr.checkKept(t, in, names[:4])
	if !strings.Contains(tr.logs.String(), "history queue drained") || !strings.Contains(tr.logs.String(), "dropped=3") {
		t.Fatalf("no drained line with the count of drops:\n%s", tr.logs)
	}
	// Drained, it takes rows again.
	tr.add("ROWAFTER1", 10)
	tr.flush(t)
	tr.checkKept(t, in, append(names[:4:4], "ROWAFTER1"))
}

// TestHistoryQueueBytesBound: the queue also refuses a row that would
// take its bodies past queueBytes (bodies are up to MaxBody each).
func TestHistoryQueueBytesBound(t *testing.T) {
	in, g, started := held(true)
	tr := newTestRecorder(in, nil, batchq.Limits{Rows: 100, Bytes: 1100, BatchRows: 64, BatchBytes: 1 << 20})
	tr.add("ROW00000", 10)
	started(t)
	tr.add("ROW00001", 500) // 756 bytes: fits
	tr.add("ROW00002", 500) // would make 1512: dropped
	tr.add("ROW00003", 10)  // would make 1022: fits
	g.open()
	tr.flush(t)
	tr.checkKept(t, in, []string{"ROW00000", "ROW00001", "ROW00003"})
}

// TestHistoryFlushWaitsForEverything: Flush returns only when every row
// queued is written, gives up with ctx's error while the store holds it,
// and leaves no writer running (nothing to close on shutdown). Plant
// killed: a Flush that returns when the in-flight write ends but rows
// are still queued, or at once.
func TestHistoryFlushWaitsForEverything(t *testing.T) {
	if err := (&Settler{}).Flush(context.Background()); err != nil {
		t.Fatalf("Flush without a history: %v", err)
	}
	in, g, started := held(true)
	tr := newTestRecorder(in, nil, batchq.Limits{Rows: 1000, Bytes: 1 << 20, BatchRows: 2, BatchBytes: 1 << 20})
	names := otns(0, 9)
	tr.add(names[0], 10)
	started(t)
	for _, otn := range names[1:] {
		tr.add(otn, 10)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&Settler{hist: tr.recorder}).Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush on a canceled context while the store holds: %v, want context.Canceled", err)
	}
	g.open()
	tr.flush(t)
	tr.checkKept(t, in, names) // all nine, in five writes
	if got := len(g.written()); got != 5 {
		t.Fatalf("%d writes for 9 rows in batches of 2 after the first, want 5", got)
	}
	if !tr.q.Idle() {
		t.Fatal("after Flush: the writer is still running, or rows are queued")
	}
}

// TestHistoryBatchFailureFallsBack: a batch the store refuses (one row it
// cannot take) is written again row by row, so that only that row is
// lost, reported as a history failure. Plant killed: a writer that drops
// the whole batch on its error.
func TestHistoryBatchFailureFallsBack(t *testing.T) {
	in, g, started := held(true)
	g.poison = "ROW00002"
	tr := newTestRecorder(in, nil, batchq.Limits{Rows: 100, Bytes: 1 << 20, BatchRows: 64, BatchBytes: 1 << 20})
	names := otns(0, 5)
	tr.add(names[0], 10)
	started(t)
	for _, otn := range names[1:] {
		tr.add(otn, 10)
	}
	g.open()
	tr.flush(t)
	tr.checkKept(t, in, []string{"ROW00000", "ROW00001", "ROW00003", "ROW00004"})
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.events) != 1 || tr.events[0].OutTradeNo != "ROW00002" || tr.events[0].Source != SourceHistory {
		t.Fatalf("history failures reported: %+v; want one, for ROW00002", tr.events)
	}
}

// TestHistoryWriterWithoutBatcher: an inbox without AddInboxBatch gets
// the same rows, one AddInbox each.
func TestHistoryWriterWithoutBatcher(t *testing.T) {
	in, g, started := held(false)
	tr := newTestRecorder(in, nil, batchq.Limits{Rows: 100, Bytes: 1 << 20, BatchRows: 64, BatchBytes: 1 << 20})
	names := otns(0, 4)
	tr.add(names[0], 10)
	started(t)
	for _, otn := range names[1:] {
		tr.add(otn, 10)
	}
	g.open()
	tr.flush(t)
	if diff := cmp.Diff([]int{1, 1, 1, 1}, g.written()); diff != "" {
		t.Fatalf("rows per write (-want +got):\n%s", diff)
	}
	tr.checkKept(t, in, names)
}

// countingEvents is an event history that counts its writes.
type countingEvents struct {
	*memstore.Store
	mu            sync.Mutex
	adds, batches int
}

func (c *countingEvents) AddEvent(ctx context.Context, e *store.Event) error {
	c.mu.Lock()
	c.adds++
	c.mu.Unlock()
	return c.Store.AddEvent(ctx, e)
}

func (c *countingEvents) AddEvents(ctx context.Context, evs []*store.Event) error {
	c.mu.Lock()
	c.batches++
	c.mu.Unlock()
	return c.Store.AddEvents(ctx, evs)
}

// TestHistoryEventsBatched: events raised on a reply's path (alerts) go
// through the same queue, a batch of them in one AddEvents, beside the
// inbox items of the same batch.
func TestHistoryEventsBatched(t *testing.T) {
	in, g, started := held(true)
	ev := &countingEvents{Store: memstore.New()}
	tr := newTestRecorder(in, ev, batchq.Limits{Rows: 100, Bytes: 1 << 20, BatchRows: 64, BatchBytes: 1 << 20})
	tr.add("ROW00000", 10)
	started(t)
	for i := range 3 {
		tr.recordLater(store.Event{OutTradeNo: "ALERT0001", At: time.Now(), Kind: store.EventAlert, Detail: fmt.Sprint(i)})
	}
	tr.add("ROW00001", 10)
	g.open()
	tr.flush(t)
	evs, err := ev.ListEvents(context.Background(), "ALERT0001")
	if err != nil || len(evs) != 3 || evs[0].Instance != "host-1" {
		t.Fatalf("events kept: %+v, %v; want 3 of host-1", evs, err)
	}
	if ev.adds != 0 || ev.batches != 1 {
		t.Fatalf("%d AddEvent and %d AddEvents calls, want one AddEvents", ev.adds, ev.batches)
	}
	tr.checkKept(t, in, []string{"ROW00000", "ROW00001"})
	if diff := cmp.Diff([]int{1, 1}, g.written()); diff != "" {
		t.Fatalf("inbox rows per write (-want +got):\n%s", diff)
	}
}

// TestHistoryFlushBesideWriters: rows added from many goroutines while
// Flush runs again and again (a shutdown racing the last requests) are
// all kept once the adders are done and Flush has returned, with no data
// race (run under -race) and no writer left running.
func TestHistoryFlushBesideWriters(t *testing.T) {
	mem := memstore.New()
	tr := newTestRecorder(mem, nil, batchq.Limits{Rows: 10000, Bytes: 64 << 20, BatchRows: 8, BatchBytes: 1 << 20})
	var names []string
	var wg sync.WaitGroup
	for g := range 8 {
		batch := otns(g*50, g*50+50)
		names = append(names, batch...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, otn := range batch {
				tr.add(otn, 10)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for flushing := true; flushing; {
		select {
		case <-done:
			flushing = false
		default:
			tr.flush(t)
		}
	}
	tr.flush(t)
	tr.checkKept(t, mem, names)
	if !tr.q.Idle() {
		t.Fatal("after the last Flush: the writer is still running, or rows are queued")
	}
}
