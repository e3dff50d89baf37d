package memstore

import (
	"context"

	"github.com/cypaykit/kit/store"
)

var _ store.PendingCounter = (*Store)(nil)

// CountPending implements store.PendingCounter.
func (s *Store) CountPending(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, o := range s.orders {
		if o.Status == store.Pending {
			n++
		}
	}
	return n, nil
}
