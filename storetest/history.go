package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/store"
)

// The history tests are optional capabilities: they skip for a store that
// does not implement store.InboxStore or store.EventStore.
func init() {
	orderTests = append(orderTests,
		orderTest{"InboxRoundTrip", testInboxRoundTrip},
		orderTest{"InboxList", testInboxList},
		orderTest{"InboxCopies", testInboxCopies},
		orderTest{"InboxPrune", testInboxPrune},
		orderTest{"EventsList", testEventsList},
		orderTest{"EventsPrune", testEventsPrune},
		orderTest{"HistoryContextCanceled", testHistoryContextCanceled},
		orderTest{"InboxBatch", testInboxBatch},
		orderTest{"InboxBatchLarge", testInboxBatchLarge},
		orderTest{"EventsBatch", testEventsBatch},
	)
}

func inboxStore(t *testing.T, s store.OrderStore) store.InboxStore {
	t.Helper()
	i, ok := s.(store.InboxStore)
	if !ok {
		t.Skip("storetest: store does not implement store.InboxStore")
	}
	return i
}

func eventStore(t *testing.T, s store.OrderStore) store.EventStore {
	t.Helper()
	e, ok := s.(store.EventStore)
	if !ok {
		t.Skip("storetest: store does not implement store.EventStore")
	}
	return e
}

// inboxItem is a kept notification of attempt otn received at at(n). Its
// body holds bytes a text column would mangle: a replay must post exactly
// what arrived.
func inboxItem(otn string, n int, reply string) *store.InboxItem {
	return &store.InboxItem{
		ReceivedAt: at(n), Instance: "host-1", OutTradeNo: otn, Amount: 1999,
		ContentType: "application/x-www-form-urlencoded", RemoteAddr: "10.0.0.9:51234",
		Headers: "User-Agent: gateway/1.0\nX-Forwarded-For: 203.0.113.7",
		Body:    []byte(fmt.Sprintf("out_trade_no=%s&n=%d&raw=%%FF\xff\x00+end", otn, n)),
		Outcome: "settled", Reply: reply, Status: 200,
	}
}

func addInbox(t *testing.T, s store.InboxStore, it *store.InboxItem) int64 {
	t.Helper()
	id, err := s.AddInbox(context.Background(), it)
	if err != nil {
		t.Fatalf("AddInbox: %v", err)
	}
	return id
}

func testInboxRoundTrip(t *testing.T, s store.OrderStore) {
	in := inboxStore(t, s)
	ctx := context.Background()
	want := inboxItem("INBOXA001", 1, "fail")
	want.Err, want.Status, want.Outcome = "handler: store down", 500, "store_error"
	id := addInbox(t, in, want)
	id2 := addInbox(t, in, inboxItem("INBOXA001", 2, "success"))
	if id2 <= id {
		t.Fatalf("AddInbox IDs: second %d not above first %d", id2, id)
	}
	got, err := in.GetInbox(ctx, id)
	if err != nil {
		t.Fatalf("GetInbox(%d): %v", id, err)
	}
	want.ID = id
	if diff := cmp.Diff(want, got, sameInstant); diff != "" {
		t.Fatalf("GetInbox (-want +got):\n%s", diff)
	}
	got.Body[0] = 'X' // a copy: changing it changes nothing stored
	again, err := in.GetInbox(ctx, id)
	if err != nil || again.Body[0] != 'o' {
		t.Fatalf("GetInbox after changing a returned body: body %q, err %v; want the body as kept", again.Body, err)
	}
	if _, err := in.GetInbox(ctx, id2+1000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetInbox of an unknown id: got %v, want ErrNotFound", err)
	}
}

func ids(items []*store.InboxItem) []int64 {
	out := []int64{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func testInboxList(t *testing.T, s store.OrderStore) {
	in := inboxStore(t, s)
	ctx := context.Background()
	var all []int64
	for n := 1; n <= 6; n++ {
		reply := store.ReplySuccess
		if n%2 == 0 {
			reply = "fail"
		}
		otn := "INBOXA001"
		if n > 4 {
			otn = "INBOXA002"
		}
		all = append(all, addInbox(t, in, inboxItem(otn, n, reply)))
	}
	list := func(q store.InboxQuery) []int64 {
		t.Helper()
		items, err := in.ListInbox(ctx, q)
		if err != nil {
			t.Fatalf("ListInbox(%+v): %v", q, err)
		}
		return ids(items)
	}
	for _, tc := range []struct {
		name string
		q    store.InboxQuery
		want []int64
	}{
		{"all, newest first", store.InboxQuery{}, []int64{all[5], all[4], all[3], all[2], all[1], all[0]}},
		{"failed only", store.InboxQuery{FailedOnly: true}, []int64{all[5], all[3], all[1]}},
		{"since at(3)", store.InboxQuery{Since: at(3)}, []int64{all[5], all[4], all[3], all[2]}},
		{"one attempt", store.InboxQuery{OutTradeNo: "INBOXA002"}, []int64{all[5], all[4]}},
		{"first page", store.InboxQuery{Limit: 2}, []int64{all[5], all[4]}},
		{"limit 1 is one, not the default", store.InboxQuery{Limit: 1}, []int64{all[5]}},
		{"next page", store.InboxQuery{Limit: 2, Before: all[4]}, []int64{all[3], all[2]}},
		{"failed since", store.InboxQuery{FailedOnly: true, Since: at(3)}, []int64{all[5], all[3]}},
		{"nothing", store.InboxQuery{OutTradeNo: "NOSUCH001"}, []int64{}},
	} {
		if diff := cmp.Diff(tc.want, list(tc.q)); diff != "" {
			t.Errorf("ListInbox %s: IDs (-want +got):\n%s", tc.name, diff)
		}
	}
}

func testInboxCopies(t *testing.T, s store.OrderStore) {
	in := inboxStore(t, s)
	ctx := context.Background()
	id := addInbox(t, in, inboxItem("INBOXA001", 1, store.ReplySuccess))
	for _, n := range []int64{3, 4} {
		if err := in.AddInboxCopies(ctx, id, n); err != nil {
			t.Fatalf("AddInboxCopies(%d, %d): %v", id, n, err)
		}
	}
	got, err := in.GetInbox(ctx, id)
	if err != nil || got.Copies != 7 {
		t.Fatalf("GetInbox after 3+4 copies: Copies %v, err %v; want 7", got, err)
	}
	if err := in.AddInboxCopies(ctx, id+1000, 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AddInboxCopies of an unknown id: got %v, want ErrNotFound", err)
	}
}

func testInboxPrune(t *testing.T, s store.OrderStore) {
	in := inboxStore(t, s)
	ctx := context.Background()
	var fresh []int64
	for n := 1; n <= 5; n++ {
		addInbox(t, in, inboxItem("INBOXA001", n, store.ReplySuccess)) // old
		fresh = append(fresh, addInbox(t, in, inboxItem("INBOXA002", 100+n, store.ReplySuccess)))
	}
	for i, want := range []int{2, 2, 1, 0} {
		n, err := in.PruneInbox(ctx, at(100), 2)
		if err != nil || n != want {
			t.Fatalf("PruneInbox pass %d with limit 2: got %d, %v; want %d", i+1, n, err, want)
		}
	}
	items, err := in.ListInbox(ctx, store.InboxQuery{Limit: 100})
	if err != nil {
		t.Fatalf("ListInbox: %v", err)
	}
	want := []int64{fresh[4], fresh[3], fresh[2], fresh[1], fresh[0]}
	if diff := cmp.Diff(want, ids(items)); diff != "" {
		t.Fatalf("after pruning, the items kept (-want +got):\n%s", diff)
	}
}

func testEventsList(t *testing.T, s store.OrderStore) {
	es := eventStore(t, s)
	ctx := context.Background()
	add := func(e store.Event) {
		t.Helper()
		if err := es.AddEvent(ctx, &e); err != nil {
			t.Fatalf("AddEvent(%+v): %v", e, err)
		}
	}
	// Recorded out of time order, as instances with their own clocks do.
	add(store.Event{OutTradeNo: "EVENTA001", At: at(5), Kind: store.EventQueried, Source: "query", Outcome: "settled", Amount: 1999, Detail: "SUCCESS", Instance: "host-2"})
	add(store.Event{OutTradeNo: "EVENTA001", At: at(1), Kind: store.EventCreated, Source: "preorder", Amount: 1999, Instance: "host-1"})
	add(store.Event{OutTradeNo: "EVENTA002", At: at(2), Kind: store.EventCreated, Source: "preorder", Amount: 5})
	add(store.Event{OutTradeNo: "EVENTA001", At: at(9), Kind: store.EventClosed, Source: "query", Detail: "expired"})
	want := []*store.Event{
		{OutTradeNo: "EVENTA001", At: at(1), Kind: store.EventCreated, Source: "preorder", Amount: 1999, Instance: "host-1"},
	}
	var notified *store.InboxItem
	if in, ok := s.(store.InboxStore); ok {
		notified = inboxItem("EVENTA001", 3, "fail")
		notified.Outcome = "store_error"
		notified.ID = addInbox(t, in, notified)
		addInbox(t, in, inboxItem("EVENTA002", 4, store.ReplySuccess))
		want = append(want, store.NotifiedEvent(notified))
	}
	want = append(want,
		&store.Event{OutTradeNo: "EVENTA001", At: at(5), Kind: store.EventQueried, Source: "query", Outcome: "settled", Amount: 1999, Detail: "SUCCESS", Instance: "host-2"},
		&store.Event{OutTradeNo: "EVENTA001", At: at(9), Kind: store.EventClosed, Source: "query", Detail: "expired"},
	)
	got, err := es.ListEvents(ctx, "EVENTA001")
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	ignoreID := cmp.Comparer(func(a, b *store.Event) bool {
		x, y := *a, *b
		if x.Kind != store.EventNotified {
			x.ID, y.ID = 0, 0 // recorded events' IDs are the store's to pick
		}
		return cmp.Equal(x, y, sameInstant)
	})
	if diff := cmp.Diff(want, got, ignoreID); diff != "" {
		t.Fatalf("ListEvents(EVENTA001) (-want +got):\n%s", diff)
	}
	none, err := es.ListEvents(ctx, "NOSUCH001")
	if err != nil || none == nil || len(none) != 0 {
		t.Fatalf("ListEvents of an attempt without events: got %v, %v; want an empty slice", none, err)
	}
}

func testEventsPrune(t *testing.T, s store.OrderStore) {
	es := eventStore(t, s)
	ctx := context.Background()
	for n := 1; n <= 5; n++ {
		for _, e := range []store.Event{
			{OutTradeNo: "EVENTA001", At: at(n), Kind: store.EventCreated},       // old
			{OutTradeNo: "EVENTA002", At: at(100 + n), Kind: store.EventCreated}, // new
		} {
			if err := es.AddEvent(ctx, &e); err != nil {
				t.Fatalf("AddEvent: %v", err)
			}
		}
	}
	var kept *store.InboxItem
	if in, ok := s.(store.InboxStore); ok {
		kept = inboxItem("EVENTA001", 0, store.ReplySuccess) // PruneEvents leaves the inbox alone
		kept.ID = addInbox(t, in, kept)
	}
	for i, want := range []int{2, 2, 1, 0} {
		n, err := es.PruneEvents(ctx, at(100), 2)
		if err != nil || n != want {
			t.Fatalf("PruneEvents pass %d with limit 2: got %d, %v; want %d", i+1, n, err, want)
		}
	}
	old, err := es.ListEvents(ctx, "EVENTA001")
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	if kept != nil {
		if len(old) != 1 || old[0].InboxID != kept.ID {
			t.Fatalf("after pruning the old events, EVENTA001's history is %d events; want only its inbox item's", len(old))
		}
	} else if len(old) != 0 {
		t.Fatalf("after pruning, EVENTA001 still has %d events", len(old))
	}
	if young, err := es.ListEvents(ctx, "EVENTA002"); err != nil || len(young) != 5 {
		t.Fatalf("after pruning, EVENTA002 has %d events (err %v); want all 5 kept", len(young), err)
	}
}

func testHistoryContextCanceled(t *testing.T, s store.OrderStore) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if in, ok := s.(store.InboxStore); ok {
		if _, err := in.AddInbox(ctx, inboxItem("INBOXA001", 1, store.ReplySuccess)); !errors.Is(err, context.Canceled) {
			t.Errorf("AddInbox on a canceled context: got %v, want context.Canceled", err)
		}
		if items, _ := in.ListInbox(context.Background(), store.InboxQuery{}); len(items) != 0 {
			t.Errorf("AddInbox on a canceled context kept %d items", len(items))
		}
	}
	if es, ok := s.(store.EventStore); ok {
		if err := es.AddEvent(ctx, &store.Event{OutTradeNo: "EVENTA001", At: at(1), Kind: store.EventCreated}); !errors.Is(err, context.Canceled) {
			t.Errorf("AddEvent on a canceled context: got %v, want context.Canceled", err)
		}
	}
}

func inboxBatcher(t *testing.T, s store.OrderStore) store.InboxBatcher {
	t.Helper()
	b, ok := s.(store.InboxBatcher)
	if !ok {
		t.Skip("storetest: store does not implement store.InboxBatcher")
	}
	return b
}

// testInboxBatch: AddInboxBatch keeps every item as given, each under
// the ID returned at its place (the handler counts a notification's
// memo copies on that ID), the IDs ascending and above an earlier
// AddInbox's; it keeps copies of the bodies; no items is no row; a
// canceled context keeps nothing.
func testInboxBatch(t *testing.T, s store.OrderStore) {
	b := inboxBatcher(t, s)
	ctx := context.Background()
	none, err := b.AddInboxBatch(ctx, nil)
	if err != nil || none == nil || len(none) != 0 {
		t.Fatalf("AddInboxBatch of no items: got %v, %v; want an empty slice", none, err)
	}
	if items := listAll(t, b); len(items) != 0 {
		t.Fatalf("AddInboxBatch of no items kept %d", len(items))
	}
	first := addInbox(t, b, inboxItem("INBOXA001", 1, store.ReplySuccess))
	want := []*store.InboxItem{
		inboxItem("INBOXA002", 2, store.ReplySuccess),
		inboxItem("INBOXA003", 3, "fail"),
		inboxItem("INBOXA002", 4, store.ReplySuccess),
	}
	want[1].Err, want[1].Status, want[1].Outcome = "handler: store down", 500, "store_error"
	want[2].Copies, want[2].ID = 9, 12345 // ignored
	got, err := b.AddInboxBatch(ctx, want)
	if err != nil {
		t.Fatalf("AddInboxBatch: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("AddInboxBatch of %d items returned %d IDs", len(want), len(got))
	}
	prev := first
	for _, id := range got {
		if id <= prev {
			t.Fatalf("AddInboxBatch IDs %v after AddInbox's %d: not ascending", got, first)
		}
		prev = id
	}
	for i, w := range want {
		kept, err := b.GetInbox(ctx, got[i])
		if err != nil {
			t.Fatalf("GetInbox(%d): %v", got[i], err)
		}
		c := *w
		c.ID, c.Copies = got[i], 0
		if diff := cmp.Diff(&c, kept, sameInstant); diff != "" {
			t.Fatalf("item %d of the batch, GetInbox(%d) (-want +got):\n%s", i, got[i], diff)
		}
	}
	want[0].Body[0] = 'X'
	if kept, err := b.GetInbox(ctx, got[0]); err != nil || kept.Body[0] != 'o' {
		t.Fatalf("after changing a batch item's body: kept body %q, err %v; want the body as it was", kept.Body, err)
	}
	if diff := cmp.Diff([]int64{got[2], got[1], got[0], first}, ids(listAll(t, b))); diff != "" {
		t.Fatalf("ListInbox after the batch, IDs (-want +got):\n%s", diff)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.AddInboxBatch(cctx, []*store.InboxItem{inboxItem("INBOXA004", 5, store.ReplySuccess)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("AddInboxBatch on a canceled context: got %v, want context.Canceled", err)
	}
	if items := listAll(t, b); len(items) != 4 {
		t.Fatalf("AddInboxBatch on a canceled context: %d items, want the 4 kept before", len(items))
	}
}

func listAll(t *testing.T, in store.InboxStore) []*store.InboxItem {
	t.Helper()
	items, err := in.ListInbox(context.Background(), store.InboxQuery{Limit: 1000})
	if err != nil {
		t.Fatalf("ListInbox: %v", err)
	}
	return items
}

// testInboxBatchLarge: a batch larger than a store may write in one
// statement (sqlstore's 64 rows) is kept whole, each item under its ID.
func testInboxBatchLarge(t *testing.T, s store.OrderStore) {
	b := inboxBatcher(t, s)
	const n = 150
	items := make([]*store.InboxItem, n)
	for i := range items {
		items[i] = inboxItem(fmt.Sprintf("INBOXL%03d", i), i, store.ReplySuccess)
	}
	got, err := b.AddInboxBatch(context.Background(), items)
	if err != nil {
		t.Fatalf("AddInboxBatch of %d items: %v", n, err)
	}
	if len(got) != n {
		t.Fatalf("AddInboxBatch of %d items returned %d IDs", n, len(got))
	}
	kept := map[int64]string{}
	for _, it := range listAll(t, b) {
		kept[it.ID] = it.OutTradeNo
	}
	if len(kept) != n {
		t.Fatalf("AddInboxBatch of %d items kept %d", n, len(kept))
	}
	for i, id := range got {
		if i > 0 && id <= got[i-1] {
			t.Fatalf("AddInboxBatch IDs not ascending at %d: %d after %d", i, id, got[i-1])
		}
		if kept[id] != items[i].OutTradeNo {
			t.Fatalf("ID %d returned for item %d (%s) holds %q", id, i, items[i].OutTradeNo, kept[id])
		}
	}
}

// testEventsBatch: AddEvents records every event, and ListEvents shows
// events of the same instant in the order they were given.
func testEventsBatch(t *testing.T, s store.OrderStore) {
	es := eventStore(t, s)
	b, ok := es.(store.EventBatcher)
	if !ok {
		t.Skip("storetest: store does not implement store.EventBatcher")
	}
	ctx := context.Background()
	if err := b.AddEvents(ctx, nil); err != nil {
		t.Fatalf("AddEvents of no events: %v", err)
	}
	want := []*store.Event{
		{OutTradeNo: "EVENTB001", At: at(1), Kind: store.EventCreated, Source: "preorder", Amount: 1999, Instance: "host-1"},
		{OutTradeNo: "EVENTB001", At: at(2), Kind: store.EventAlert, Source: "notify", Outcome: "mismatch", Amount: 5, Detail: "amount"},
		{OutTradeNo: "EVENTB001", At: at(2), Kind: store.EventAlert, Source: "query", Outcome: "mismatch", Amount: 6, Detail: "double_payment"},
		{OutTradeNo: "EVENTB001", At: at(2), Kind: store.EventClosed, Source: "query", Detail: "expired"},
	}
	given := append(append([]*store.Event{}, want...), &store.Event{OutTradeNo: "EVENTB002", At: at(1), Kind: store.EventCreated, Source: "preorder"})
	if err := b.AddEvents(ctx, given); err != nil {
		t.Fatalf("AddEvents: %v", err)
	}
	got, err := es.ListEvents(ctx, "EVENTB001")
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	ignoreID := cmp.Comparer(func(a, b *store.Event) bool {
		x, y := *a, *b
		x.ID, y.ID = 0, 0
		return cmp.Equal(x, y, sameInstant)
	})
	if diff := cmp.Diff(want, got, ignoreID); diff != "" {
		t.Fatalf("ListEvents after AddEvents (-want +got):\n%s", diff)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.AddEvents(cctx, []*store.Event{{OutTradeNo: "EVENTB003", At: at(1), Kind: store.EventCreated}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("AddEvents on a canceled context: got %v, want context.Canceled", err)
	}
	if evs, _ := es.ListEvents(ctx, "EVENTB003"); len(evs) != 0 {
		t.Fatalf("AddEvents on a canceled context recorded %d events", len(evs))
	}
}
