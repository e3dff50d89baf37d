package storetest_test

import (
	"context"
	"sort"
	"time"

	"github.com/cypaykit/kit/store"
)

// Flaws of the inbox and the event history.
const (
	// pruneUnbounded deletes every old row at once, whatever the limit:
	// a retention pass that can hold the table for minutes.
	pruneUnbounded flaw = "prune-unbounded"
	// listIgnoresFilters answers every inbox query with everything.
	listIgnoresFilters flaw = "list-ignores-filters"
	// copiesLost accepts copy counts and drops them.
	copiesLost flaw = "copies-lost"
	// eventsWithoutInbox leaves the inbox's notifications out of a history.
	eventsWithoutInbox flaw = "events-without-inbox"
	// bodyAliased keeps and hands out the caller's body slice.
	bodyAliased flaw = "body-aliased"
	// batchMisnumbered keeps a batch's items in reverse order, so each
	// returned ID names another item.
	batchMisnumbered flaw = "batch-misnumbered"
	// batchCutShort keeps only the first 100 items of a batch.
	batchCutShort flaw = "batch-cut-short"
	// eventsBatchReversed records a batch of events in reverse order.
	eventsBatchReversed flaw = "events-batch-reversed"
)

// toyHistory is the toy's inbox and events, under the toy's mutex.
type toyHistory struct {
	inbox  []*store.InboxItem
	events []*store.Event
	seq    int64
}

func (s *toy) hist() *toyHistory {
	if s.history == nil {
		s.history = &toyHistory{}
	}
	return s.history
}

func (s *toy) itemCopy(it *store.InboxItem) *store.InboxItem {
	c := *it
	if s.flaw != bodyAliased {
		c.Body = append([]byte(nil), it.Body...)
	}
	return &c
}

func (s *toy) AddInbox(ctx context.Context, it *store.InboxItem) (int64, error) {
	if err := s.ctxErr(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hist()
	h.seq++
	c := s.itemCopy(it)
	c.ID, c.Copies = h.seq, 0
	h.inbox = append(h.inbox, c)
	return c.ID, nil
}

func (s *toy) AddInboxCopies(ctx context.Context, id, n int64) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range s.hist().inbox {
		if it.ID == id {
			if s.flaw != copiesLost {
				it.Copies += n
			}
			return nil
		}
	}
	return store.ErrNotFound
}

func (s *toy) GetInbox(ctx context.Context, id int64) (*store.InboxItem, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range s.hist().inbox {
		if it.ID == id {
			return s.itemCopy(it), nil
		}
	}
	return nil, store.ErrNotFound
}

func (s *toy) ListInbox(ctx context.Context, q store.InboxQuery) ([]*store.InboxItem, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	if s.flaw == listIgnoresFilters {
		q = store.InboxQuery{Limit: q.Limit}
	}
	if q.Limit < 1 {
		q.Limit = 100
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*store.InboxItem{}
	in := s.hist().inbox
	for i := len(in) - 1; i >= 0 && len(out) < q.Limit; i-- {
		it := in[i]
		if (q.Before != 0 && it.ID >= q.Before) || (!q.Since.IsZero() && it.ReceivedAt.Before(q.Since)) ||
			(q.FailedOnly && it.Reply == store.ReplySuccess) || (q.OutTradeNo != "" && it.OutTradeNo != q.OutTradeNo) {
			continue
		}
		out = append(out, s.itemCopy(it))
	}
	return out, nil
}

func (s *toy) limit(n int) int {
	if s.flaw == pruneUnbounded {
		return int(^uint(0) >> 1)
	}
	return n
}

func (s *toy) PruneInbox(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := s.ctxErr(ctx); err != nil {
		return 0, err
	}
	limit = s.limit(limit)
	s.mu.Lock()
	defer s.mu.Unlock()
	h, n := s.hist(), 0
	var kept []*store.InboxItem
	for _, it := range h.inbox {
		if n < limit && it.ReceivedAt.Before(before) {
			n++
			continue
		}
		kept = append(kept, it)
	}
	h.inbox = kept
	return n, nil
}

func (s *toy) AddEvent(ctx context.Context, e *store.Event) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hist()
	h.seq++
	c := *e
	c.ID = h.seq
	h.events = append(h.events, &c)
	return nil
}

func (s *toy) ListEvents(ctx context.Context, outTradeNo string) ([]*store.Event, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*store.Event{}
	for _, e := range s.hist().events {
		if e.OutTradeNo == outTradeNo {
			c := *e
			out = append(out, &c)
		}
	}
	if s.flaw != eventsWithoutInbox {
		for _, it := range s.hist().inbox {
			if it.OutTradeNo == outTradeNo {
				out = append(out, store.NotifiedEvent(it))
			}
		}
	}
	store.SortEvents(out)
	return out, nil
}

func (s *toy) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := s.ctxErr(ctx); err != nil {
		return 0, err
	}
	limit = s.limit(limit)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hist()
	sorted := append([]*store.Event(nil), h.events...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	drop := map[*store.Event]bool{}
	for _, e := range sorted {
		if len(drop) < limit && e.At.Before(before) {
			drop[e] = true
		}
	}
	var kept []*store.Event
	for _, e := range h.events {
		if !drop[e] {
			kept = append(kept, e)
		}
	}
	h.events = kept
	return len(drop), nil
}

func (s *toy) AddInboxBatch(ctx context.Context, items []*store.InboxItem) ([]int64, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hist()
	ids := make([]int64, 0, len(items))
	for i := range items {
		it := items[i]
		if s.flaw == batchMisnumbered {
			it = items[len(items)-1-i]
		}
		h.seq++
		c := s.itemCopy(it)
		c.ID, c.Copies = h.seq, 0
		h.inbox = append(h.inbox, c)
		ids = append(ids, c.ID)
		if s.flaw == batchCutShort && len(ids) == 100 {
			break
		}
	}
	return ids, nil
}

func (s *toy) AddEvents(ctx context.Context, evs []*store.Event) error {
	for i := range evs {
		e := evs[i]
		if s.flaw == eventsBatchReversed {
			e = evs[len(evs)-1-i]
		}
		if err := s.AddEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
