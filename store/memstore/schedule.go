package memstore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/cypaykit/kit/store"
)

var _ store.Scheduler = (*Store)(nil)

// inKind reports whether an attempt is work of kind k.
func inKind(k store.Kind, o *store.Order) (bool, error) {
	switch k {
	case store.KindQuery:
		return o.Status == store.Pending, nil
	case store.KindFulfil:
		return o.Status == store.Paid && !o.Fulfilled, nil
	}
	return false, fmt.Errorf("memstore: claim: unknown kind %q", k)
}

// Claim implements store.Scheduler. It scans every attempt: fine for the
// volumes an in-memory store holds.
func (s *Store) Claim(ctx context.Context, r store.ClaimRequest) ([]store.Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.Lease < time.Millisecond {
		return nil, fmt.Errorf("memstore: claim: %w, got %v", store.ErrLease, r.Lease)
	}
	if _, err := inKind(r.Kind, &store.Order{}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*store.Order
	for _, o := range s.orders {
		if ok, _ := inKind(r.Kind, o); !ok || o.NextDue.After(r.Now) {
			continue
		}
		if !r.CreatedAfter.IsZero() && !o.CreatedAt.After(r.CreatedAfter) {
			continue
		}
		due = append(due, o)
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].NextDue.Equal(due[j].NextDue) {
			return due[i].NextDue.Before(due[j].NextDue)
		}
		return due[i].OutTradeNo < due[j].OutTradeNo
	})
	if len(due) > max(r.Limit, 0) {
		due = due[:max(r.Limit, 0)]
	}
	s.claimSeq++
	token := "m" + strconv.FormatUint(s.claimSeq, 10)
	out := make([]store.Claim, 0, len(due))
	for _, o := range due {
		c := store.Claim{Kind: r.Kind, Key: o.OutTradeNo, Due: o.NextDue, Token: token}
		o.NextDue = r.Now.Add(r.Lease)
		s.claims[o.OutTradeNo] = token
		c.Order = clone(o)
		out = append(out, c)
	}
	return out, nil
}

// Reschedule implements store.Scheduler.
func (s *Store) Reschedule(ctx context.Context, c store.Claim, next time.Time) error {
	return s.update(ctx, "reschedule", c.Key, func(o *store.Order) error {
		if c.Token == "" || s.claims[c.Key] != c.Token {
			return store.ErrNotHeld
		}
		delete(s.claims, c.Key)
		o.NextDue = next
		return nil
	})
}
