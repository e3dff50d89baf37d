package memstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cypaykit/kit/store"
)

var (
	_ store.InboxStore = (*Store)(nil)
	_ store.EventStore = (*Store)(nil)

	_ store.InboxBatcher = (*Store)(nil)
	_ store.EventBatcher = (*Store)(nil)
)

// history is the Store's inbox and event history, under Store.hmu: apart
// from the orders' mutex, so that keeping a notification never waits for
// a settlement.
type history struct {
	inbox     []*store.InboxItem // by ID, ascending
	events    []*store.Event     // by ID, ascending
	inboxSeq  int64
	eventsSeq int64
}

func cloneItem(it *store.InboxItem) *store.InboxItem {
	c := *it
	c.Body = append([]byte(nil), it.Body...)
	return &c
}

// AddInbox implements store.InboxStore.
func (s *Store) AddInbox(ctx context.Context, it *store.InboxItem) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c := cloneItem(it)
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.hist.inboxSeq++
	c.ID, c.Copies = s.hist.inboxSeq, 0
	s.hist.inbox = append(s.hist.inbox, c)
	return c.ID, nil
}

// AddInboxBatch implements store.InboxBatcher: the copies are made
// outside the lock, then appended under it at once.
func (s *Store) AddInboxBatch(ctx context.Context, items []*store.InboxItem) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cs := make([]*store.InboxItem, len(items))
	for i, it := range items {
		cs[i] = cloneItem(it)
	}
	ids := make([]int64, len(items))
	s.hmu.Lock()
	defer s.hmu.Unlock()
	for i, c := range cs {
		s.hist.inboxSeq++
		c.ID, c.Copies = s.hist.inboxSeq, 0
		ids[i] = c.ID
	}
	s.hist.inbox = append(s.hist.inbox, cs...)
	return ids, nil
}

// findItem returns the index of item id, or -1. Callers hold hmu.
func (s *Store) findItem(id int64) int {
	in := s.hist.inbox
	i := sort.Search(len(in), func(i int) bool { return in[i].ID >= id })
	if i < len(in) && in[i].ID == id {
		return i
	}
	return -1
}

// AddInboxCopies implements store.InboxStore.
func (s *Store) AddInboxCopies(ctx context.Context, id, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	i := s.findItem(id)
	if i < 0 {
		return fmt.Errorf("memstore: inbox item %d: %w", id, store.ErrNotFound)
	}
	s.hist.inbox[i].Copies += n
	return nil
}

// GetInbox implements store.InboxStore.
func (s *Store) GetInbox(ctx context.Context, id int64) (*store.InboxItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	i := s.findItem(id)
	if i < 0 {
		return nil, fmt.Errorf("memstore: inbox item %d: %w", id, store.ErrNotFound)
	}
	return cloneItem(s.hist.inbox[i]), nil
}

// ListInbox implements store.InboxStore.
func (s *Store) ListInbox(ctx context.Context, q store.InboxQuery) ([]*store.InboxItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit < 1 {
		limit = 100
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	out := []*store.InboxItem{}
	for i := len(s.hist.inbox) - 1; i >= 0 && len(out) < limit; i-- {
		it := s.hist.inbox[i]
		if (q.Before != 0 && it.ID >= q.Before) ||
			(!q.Since.IsZero() && it.ReceivedAt.Before(q.Since)) ||
			(q.FailedOnly && it.Reply == store.ReplySuccess) ||
			(q.OutTradeNo != "" && it.OutTradeNo != q.OutTradeNo) {
			continue
		}
		out = append(out, cloneItem(it))
	}
	return out, nil
}

// PruneInbox implements store.InboxStore.
func (s *Store) PruneInbox(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	n := 0
	kept := s.hist.inbox[:0]
	for _, it := range s.hist.inbox { // ID order is arrival order
		if n < limit && it.ReceivedAt.Before(before) {
			n++
			continue
		}
		kept = append(kept, it)
	}
	clear(s.hist.inbox[len(kept):])
	s.hist.inbox = kept
	return n, nil
}

// AddEvent implements store.EventStore.
func (s *Store) AddEvent(ctx context.Context, e *store.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := *e
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.hist.eventsSeq++
	c.ID = s.hist.eventsSeq
	s.hist.events = append(s.hist.events, &c)
	return nil
}

// AddEvents implements store.EventBatcher.
func (s *Store) AddEvents(ctx context.Context, evs []*store.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cs := make([]store.Event, len(evs))
	for i, e := range evs {
		cs[i] = *e
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	for i := range cs {
		s.hist.eventsSeq++
		cs[i].ID = s.hist.eventsSeq
		s.hist.events = append(s.hist.events, &cs[i])
	}
	return nil
}

// ListEvents implements store.EventStore.
func (s *Store) ListEvents(ctx context.Context, outTradeNo string) ([]*store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	out := []*store.Event{}
	for _, e := range s.hist.events {
		if e.OutTradeNo == outTradeNo {
			c := *e
			out = append(out, &c)
		}
	}
	for _, it := range s.hist.inbox {
		if it.OutTradeNo == outTradeNo {
			out = append(out, store.NotifiedEvent(it))
		}
	}
	store.SortEvents(out)
	return out, nil
}

// PruneEvents implements store.EventStore.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	// Oldest first by At: events are appended roughly in time order, but
	// instances' clocks differ, so pick by time, not by position.
	idx := make([]int, 0)
	for i, e := range s.hist.events {
		if e.At.Before(before) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return s.hist.events[idx[a]].At.Before(s.hist.events[idx[b]].At) })
	if len(idx) > limit {
		idx = idx[:max(limit, 0)]
	}
	drop := make(map[int]bool, len(idx))
	for _, i := range idx {
		drop[i] = true
	}
	kept := s.hist.events[:0]
	for i, e := range s.hist.events {
		if !drop[i] {
			kept = append(kept, e)
		}
	}
	clear(s.hist.events[len(kept):])
	s.hist.events = kept
	return len(drop), nil
}
