package store

import "context"

// PendingCounter is implemented by stores that can count their PENDING
// attempts cheaply (one indexed count, no rows read into memory). It is
// optional: monitoring (observe/kitprom's cypaykit_pending_attempts)
// type-asserts an OrderStore for it and reports nothing without it. A
// backlog that keeps growing means notifications are not arriving and the
// Reconciler is not keeping up, or cannot reach the gateway.
type PendingCounter interface {
	// CountPending returns how many attempts are PENDING now, whatever
	// their age. It honours ctx and is safe for concurrent use.
	CountPending(ctx context.Context) (int64, error)
}
