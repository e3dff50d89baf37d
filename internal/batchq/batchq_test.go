package batchq

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// bound is how long a test waits for something that should happen at once.
const bound = 30 * time.Second

// sink is a writer whose first write can be held until the test lets it
// go, so that what is queued meanwhile, not timing, decides the batches.
// Rows are ints; a row weighs its value.
type sink struct {
	mu      sync.Mutex
	batches [][]int
	lost    []int64
	gate    chan struct{} // non-nil: the first write waits for it to close
	entered chan struct{} // receives once, when the first write starts
}

func newSink(hold bool) *sink {
	s := &sink{entered: make(chan struct{}, 1)}
	if hold {
		s.gate = make(chan struct{})
	}
	return s
}

func (s *sink) queue(lim Limits) *Queue[int] {
	return New(lim, func(n int) int { return n }, s.write, func(n int64) {
		s.mu.Lock()
		s.lost = append(s.lost, n)
		s.mu.Unlock()
	})
}

func (s *sink) write(batch []int) {
	select {
	case s.entered <- struct{}{}:
		if s.gate != nil {
			<-s.gate
		}
	default:
	}
	s.mu.Lock()
	s.batches = append(s.batches, batch)
	s.mu.Unlock()
}

// started waits until the first write has begun.
func (s *sink) started(t *testing.T) {
	t.Helper()
	select {
	case <-s.entered:
	case <-time.After(bound):
		t.Fatal("the writer never started")
	}
}

func (s *sink) written() (batches [][]int, lost []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches), slices.Clone(s.lost)
}

func wait(t *testing.T, q *Queue[int]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := q.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if !q.Idle() {
		t.Fatal("after Wait: the writer is still running, or rows are queued")
	}
}

func add(t *testing.T, q *Queue[int], rows ...int) {
	t.Helper()
	for _, r := range rows {
		if ok, _ := q.Add(r); !ok {
			t.Fatalf("Add(%d) dropped the row", r)
		}
	}
}

// TestBatchBounds: rows queued while a write is held go out in order, in
// batches cut before the row that would pass BatchRows or BatchBytes; a
// row heavier than BatchBytes goes alone. Plants killed: a batch bound
// by rows only, or by bytes only, or one row per write.
func TestBatchBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		lim  Limits
		rows []int
		want [][]int
	}{
		{"rows", Limits{Rows: 100, Bytes: 1000, BatchRows: 3, BatchBytes: 1000},
			[]int{1, 1, 1, 1, 1, 1, 1, 1}, [][]int{{1}, {1, 1, 1}, {1, 1, 1}, {1}}},
		{"bytes", Limits{Rows: 100, Bytes: 1000, BatchRows: 64, BatchBytes: 10},
			[]int{1, 4, 4, 4, 50, 3, 3}, [][]int{{1}, {4, 4}, {4}, {50}, {3, 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(true)
			q := s.queue(tc.lim)
			add(t, q, tc.rows[0])
			s.started(t)
			add(t, q, tc.rows[1:]...)
			close(s.gate)
			wait(t, q)
			got, lost := s.written()
			if !slices.EqualFunc(got, tc.want, slices.Equal[[]int]) || len(lost) != 0 {
				t.Fatalf("batches %v, drained reports %v; want %v and none", got, lost, tc.want)
			}
		})
	}
}

// TestFullQueueDrops: a full queue, by rows or by bytes, drops at once,
// says which drop is the first of its episode, reports the count when the
// writer stops, and takes rows again after. An empty queue takes a row
// heavier than Bytes. Plants killed: an Add that waits for room, a first
// flag on every drop, a count never reported, a bound left out.
func TestFullQueueDrops(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lim        Limits
		kept, drop []int
	}{
		{"rows", Limits{Rows: 3, Bytes: 1000, BatchRows: 64, BatchBytes: 1000}, []int{1, 1, 1}, []int{1, 1}},
		{"bytes", Limits{Rows: 100, Bytes: 10, BatchRows: 64, BatchBytes: 1000}, []int{50}, []int{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(true)
			q := s.queue(tc.lim)
			add(t, q, 1)
			s.started(t) // in flight: the queue is empty again
			add(t, q, tc.kept...)
			for i, r := range tc.drop {
				if ok, first := q.Add(r); ok || first != (i == 0) {
					t.Fatalf("drop %d: ok %v, first %v; want dropped, first only for the first", i, ok, first)
				}
			}
			close(s.gate)
			wait(t, q)
			add(t, q, 7)
			wait(t, q)
			got, lost := s.written()
			want := [][]int{{1}, tc.kept, {7}}
			if !slices.EqualFunc(got, want, slices.Equal[[]int]) || !slices.Equal(lost, []int64{int64(len(tc.drop))}) {
				t.Fatalf("batches %v, drained reports %v; want %v and [%d]", got, lost, want, len(tc.drop))
			}
		})
	}
}

// TestWaitEndsWithCtx: Wait on a held writer returns ctx's error, and
// without rows returns at once.
func TestWaitEndsWithCtx(t *testing.T) {
	s := newSink(true)
	q := s.queue(Limits{Rows: 10, Bytes: 10, BatchRows: 1, BatchBytes: 10})
	wait(t, q)
	add(t, q, 1, 1)
	s.started(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait while the write is held: %v, want context.Canceled", err)
	}
	close(s.gate)
	wait(t, q)
	if got, _ := s.written(); len(got) != 2 {
		t.Fatalf("batches %v, want two of one row", got)
	}
}

// TestAddBesideWait: rows added from many goroutines while Wait runs
// again and again are all written exactly once (run under -race).
func TestAddBesideWait(t *testing.T) {
	s := newSink(false)
	q := s.queue(Limits{Rows: 10000, Bytes: 10000, BatchRows: 7, BatchBytes: 10000})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				q.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		default:
			// Not wait(t, q): while the adders run, an Add may start
			// a new writer the moment Wait returns, so Idle is only
			// asked for once they are done (below).
			ctx, cancel := context.WithTimeout(context.Background(), bound)
			err := q.Wait(ctx)
			cancel()
			if err != nil {
				t.Fatalf("Wait beside the adders: %v", err)
			}
		}
	}
	wait(t, q)
	got, lost := s.written()
	n := 0
	for _, b := range got {
		n += len(b)
	}
	if n != 800 || len(lost) != 0 {
		t.Fatalf("%d rows written, drops reported %v; want 800 and none", n, lost)
	}
}
