// Package batchq is a bounded queue that one background goroutine drains
// in batches: for writes that may lag behind their callers (evidence
// written after a reply went out) but must never hold them up. A full
// queue drops what it is given instead of waiting, and the writer runs
// only while the queue has rows, so there is nothing to close.
package batchq

import (
	"context"
	"slices"
	"sync"
)

// Limits bound a Queue and each batch its writer takes from it. Sizes are
// what the Queue's size function says a row weighs.
type Limits struct {
	// Rows and Bytes bound what waits in the queue: a row that would take
	// it past either is dropped. A row heavier than Bytes is still taken
	// into an empty queue, so that no row is refused for ever.
	Rows, Bytes int
	// BatchRows and BatchBytes bound one batch: a batch stops before the
	// row that would take it past either, and a row heavier than
	// BatchBytes goes alone.
	BatchRows, BatchBytes int
}

// Queue is a bounded queue of rows of type T and its writer. It is safe
// for concurrent use.
type Queue[T any] struct {
	lim     Limits
	size    func(T) int
	write   func(batch []T)
	drained func(dropped int64)

	mu       sync.Mutex
	rows     []T
	bytes    int
	running  bool          // a writer is draining the queue
	idle     chan struct{} // closed when that writer stops
	dropping int64         // rows dropped since the queue last drained
}

// New returns an empty Queue bounded by lim. size weighs a row; write
// stores one batch, oldest row first, and is never called for two
// batches at once; drained, when not nil, learns how many rows were
// dropped each time the writer stops after dropping some.
func New[T any](lim Limits, size func(T) int, write func(batch []T), drained func(dropped int64)) *Queue[T] {
	return &Queue[T]{lim: lim, size: size, write: write, drained: drained}
}

// Limits returns the Queue's limits.
func (q *Queue[T]) Limits() Limits { return q.lim }

// Add queues row for the writer, starting it if it is not running, and
// reports true. When the queue is full it drops row and reports false;
// first then says row is the first dropped since the queue last drained
// (a caller logs once per episode). It never waits for the writer.
func (q *Queue[T]) Add(row T) (ok, first bool) {
	n := q.size(row)
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.rows) >= q.lim.Rows || (len(q.rows) > 0 && q.bytes+n > q.lim.Bytes) {
		q.dropping++
		return false, q.dropping == 1
	}
	q.rows = append(q.rows, row)
	q.bytes += n
	if !q.running {
		q.running, q.idle = true, make(chan struct{})
		go q.drain()
	}
	return true, false
}

// drain is the writer: it writes the queue batch by batch and stops when
// the queue is empty.
func (q *Queue[T]) drain() {
	for {
		q.mu.Lock()
		if len(q.rows) == 0 {
			q.running = false
			close(q.idle)
			lost := q.dropping
			q.dropping, q.bytes = 0, 0
			q.rows = nil // let a burst's backing array go
			q.mu.Unlock()
			if lost > 0 && q.drained != nil {
				q.drained(lost)
			}
			return
		}
		k, bytes := 0, 0
		for k < len(q.rows) && k < q.lim.BatchRows {
			n := q.size(q.rows[k])
			if k > 0 && bytes+n > q.lim.BatchBytes {
				break
			}
			k, bytes = k+1, bytes+n
		}
		batch := slices.Clone(q.rows[:k])
		clear(q.rows[:k])
		q.rows = q.rows[k:]
		q.bytes -= bytes
		q.mu.Unlock()
		q.write(batch)
	}
}

// Wait waits until every row queued is written and the writer has
// stopped, or ctx ends (then it returns ctx.Err()). Rows added while it
// waits are waited for too.
func (q *Queue[T]) Wait(ctx context.Context) error {
	for {
		q.mu.Lock()
		if !q.running {
			q.mu.Unlock()
			return nil
		}
		idle := q.idle
		q.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Idle reports whether no writer is running and no row is queued.
func (q *Queue[T]) Idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.running && len(q.rows) == 0
}
