package sqlstore

import (
	"context"
	"fmt"

	"github.com/cypaykit/kit/store"
)

var _ store.PendingCounter = (*Store)(nil)

// CountPending implements store.PendingCounter with one COUNT over the
// (status, created_at) index.
func (s *Store) CountPending(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.fail(ctx, "count pending", err)
	}
	q := fmt.Sprintf("SELECT COUNT(*) FROM %sorders WHERE status = '%s'", s.prefix, store.Pending)
	var n int64
	if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, s.fail(ctx, "count pending", err)
	}
	return n, nil
}
