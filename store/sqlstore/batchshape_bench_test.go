package sqlstore_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store/sqlstore"
)

// coalescer runs one statement for many callers: a caller hands in its
// key and waits; one goroutine takes every key waiting (at most
// maxBatch), runs run once for all of them and hands each caller its
// row's answer. There is no timer: a batch is whatever queued while the
// previous one ran, so a lone caller is not held back.
type coalescer struct {
	in  chan coalesced
	run func(ctx context.Context, keys []string) (map[string]bool, error)
}

type coalesced struct {
	key  string
	done chan coalescedResult
}

type coalescedResult struct {
	ok  bool
	err error
}

const maxBatch = 64

func newCoalescer(run func(ctx context.Context, keys []string) (map[string]bool, error)) *coalescer {
	c := &coalescer{in: make(chan coalesced, 1024), run: run}
	go c.loop()
	return c
}

func (c *coalescer) loop() {
	for first := range c.in {
		batch := []coalesced{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-c.in:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		keys := make([]string, len(batch))
		for i, r := range batch {
			keys[i] = r.key
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := c.run(ctx, keys)
		cancel()
		for _, r := range batch {
			r.done <- coalescedResult{ok: got[r.key], err: err}
		}
	}
}

func (c *coalescer) do(key string) (bool, error) {
	done := make(chan coalescedResult, 1)
	c.in <- coalesced{key: key, done: done}
	r := <-done
	return r.ok, r.err
}

func (c *coalescer) close() { close(c.in) }

// keysOf runs q with keys as its one text[] argument and answers which
// keys came back in the first column.
func keysOf(db *sql.DB, q string) func(ctx context.Context, keys []string) (map[string]bool, error) {
	return func(ctx context.Context, keys []string) (map[string]bool, error) {
		rows, err := db.QueryContext(ctx, q, keys)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		got := make(map[string]bool, len(keys))
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return nil, err
			}
			got[k] = true
		}
		return got, rows.Err()
	}
}

// batchedShape is shapeSettle's four statements on PostgreSQL with each
// statement run for every delivery that waits for it at once (group
// commit across deliveries): read the attempts, settle the PENDING ones
// (commit), read their business orders, mark them fulfilled (commit).
// It bounds what batching the kit's statements could reach; it is not
// the kit (no schedule, money facts, lease or hook, and one delivery's
// failure would fail its whole batch).
func batchedShape(b *testing.B, db *sql.DB, prefix string) http.Handler {
	t := prefix + "orders"
	read := newCoalescer(keysOf(db, "SELECT out_trade_no FROM "+t+" WHERE out_trade_no = ANY($1) AND status = 'PENDING'"))
	settle := newCoalescer(keysOf(db, "UPDATE "+t+" SET status = 'PAID', transaction_id = 'T' || out_trade_no, updated_at = 1 "+
		"WHERE out_trade_no = ANY($1) AND status = 'PENDING' RETURNING out_trade_no"))
	list := newCoalescer(keysOf(db, "SELECT business_id FROM "+t+" WHERE business_id = ANY($1)"))
	mark := newCoalescer(keysOf(db, "UPDATE "+t+" SET fulfilled = 1, fulfilled_at = 1, updated_at = 1 "+
		"WHERE out_trade_no = ANY($1) AND status = 'PAID' AND fulfilled = 0 RETURNING out_trade_no"))
	b.Cleanup(func() { read.close(); settle.close(); list.close(); mark.close() })
	fail := func(w http.ResponseWriter) { http.Error(w, "fail", http.StatusInternalServerError) }
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := req.ParseForm(); err != nil || sign.Verify(req.PostForm, sign.MD5, benchKey) != nil {
			http.Error(w, "fail", http.StatusBadRequest)
			return
		}
		otn := req.PostForm.Get("out_trade_no")
		if ok, err := read.do(otn); !ok || err != nil {
			fail(w)
			return
		}
		if ok, err := settle.do(otn); !ok || err != nil {
			fail(w)
			return
		}
		if ok, err := list.do(strings.TrimSuffix(otn, "A001")); !ok || err != nil {
			fail(w)
			return
		}
		if ok, err := mark.do(otn); !ok || err != nil {
			fail(w)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "success")
	})
}

// BenchmarkFreshSettlementBatchedShape is BenchmarkFreshSettlementShape
// with the shape's statements batched across concurrent deliveries
// (batchedShape), on PostgreSQL only: what group commit could buy, as a
// bound for issue 18.8's ratio, not a design (BENCHMARKS.md).
//
//	go test -run '^$' -bench 'BenchmarkFreshSettlementBatchedShape$' -benchtime 4000x -count 3 .
func BenchmarkFreshSettlementBatchedShape(b *testing.B) {
	againstBare(b, "batched", func(b *testing.B, _ *sqlstore.Store, db *sql.DB, d sqlstore.Dialect, prefix string) http.Handler {
		if d != sqlstore.Postgres {
			b.Skip("PostgreSQL's arrays")
		}
		return batchedShape(b, db, prefix)
	})
}
