package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store/sqlstore"
)

// freshClients is the number of keep-alive clients that post
// notifications at once, as a gateway's retries and a busy shop's
// payments would.
const freshClients = 16

// bareSettle is the baseline of BenchmarkFreshSettlement: parse the form,
// verify the sign, run one conditional UPDATE in autocommit and answer
// success when it changed the row. No schedule, no lease, no hook.
func bareSettle(db *sql.DB, d sqlstore.Dialect, prefix string) http.Handler {
	q := "UPDATE " + prefix + "orders SET status = 'PAID', transaction_id = ?, updated_at = ? " +
		"WHERE out_trade_no = ? AND status = 'PENDING'"
	if d == sqlstore.Postgres {
		q = "UPDATE " + prefix + "orders SET status = 'PAID', transaction_id = $1, updated_at = $2 " +
			"WHERE out_trade_no = $3 AND status = 'PENDING'"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || sign.Verify(r.PostForm, sign.MD5, benchKey) != nil {
			http.Error(w, "fail", http.StatusBadRequest)
			return
		}
		res, err := db.ExecContext(r.Context(), q, r.PostForm.Get("transaction_id"), time.Now().UnixMicro(), r.PostForm.Get("out_trade_no"))
		if err != nil {
			http.Error(w, "fail", http.StatusInternalServerError)
			return
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			http.Error(w, "fail", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "success")
	})
}

// freshOrders records n PENDING attempts through s (schedule row and
// all, as a pre-order does), tagged so that runs never share one, and
// returns their paid notifications.
func freshOrders(b *testing.B, h interface{ create(i int) string }, n int) []string {
	b.Helper()
	bodies := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				bodies[i] = h.create(i)
			}
		}()
	}
	wg.Wait()
	return bodies
}

type orderMaker struct {
	b     *testing.B
	s     *sqlstore.Store
	tag   string
	fails atomic.Int64
}

func (m *orderMaker) create(i int) string {
	o := order(fmt.Sprintf("%sN%d", m.tag, i), 1)
	o.MchID = benchMchID
	if err := m.s.Create(context.Background(), o); err != nil {
		m.fails.Add(1)
		return ""
	}
	return paidBody(m.b, o)
}

// postAll posts every body once from freshClients keep-alive clients and
// returns the elapsed time; any answer but success fails the benchmark.
func postAll(b *testing.B, hc *http.Client, url string, bodies []string) time.Duration {
	b.Helper()
	var next, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range freshClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				resp, err := hc.Post(url, "application/x-www-form-urlencoded", strings.NewReader(bodies[i]))
				if err != nil {
					bad.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) != "success" {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if n := bad.Load(); n > 0 {
		b.Fatalf("%d of %d notifications were not answered success", n, len(bodies))
	}
	return d
}

var freshRun atomic.Int64

// freshSetup opens a migrated store on tg, with a pool for freshClients,
// and records two sets of b.N PENDING attempts, returning the paid
// notification of each: one set per handler a benchmark compares.
func freshSetup(b *testing.B, tg target) (s *sqlstore.Store, db *sql.DB, prefix string, first, second []string) {
	b.Helper()
	return freshSetupOn(b, tg, tg.open(b, tg.newDSN(b)))
}

// freshSetupOn is freshSetup on db, an open database of tg's.
func freshSetupOn(b *testing.B, tg target, db *sql.DB) (s *sqlstore.Store, _ *sql.DB, prefix string, first, second []string) {
	b.Helper()
	db.SetMaxOpenConns(2 * freshClients)
	db.SetMaxIdleConns(2 * freshClients)
	prefix = newPrefix(b, tg, db)
	s, err := sqlstore.New(db, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	run := freshRun.Add(1)
	firstMaker := &orderMaker{b: b, s: s, tag: fmt.Sprintf("K%d", run)}
	secondMaker := &orderMaker{b: b, s: s, tag: fmt.Sprintf("B%d", run)}
	first, second = freshOrders(b, firstMaker, b.N), freshOrders(b, secondMaker, b.N)
	if firstMaker.fails.Load()+secondMaker.fails.Load() > 0 {
		b.Fatal("could not record the attempts")
	}
	return s, db, prefix, first, second
}

// BenchmarkFreshSettlement serves the notification handler on the SQL
// store (the Store as its own Locker, a fulfilment hook that does
// nothing) beside a bare handler that parses the form, verifies the sign
// and runs one conditional UPDATE, both over loopback HTTP, both driven
// by 16 keep-alive clients posting fresh paid notifications, in 10
// interleaved rounds that alternate which goes first. It reports both
// rates and kit/bare. TestFreshSettlementRoundTrips counts the round
// trips behind the difference.
//
//	go test -run '^$' -bench 'BenchmarkFreshSettlement$' -benchtime 4000x -count 3 .
func BenchmarkFreshSettlement(b *testing.B) {
	againstBare(b, "kit", func(b *testing.B, s *sqlstore.Store, _ *sql.DB, _ sqlstore.Dialect, _ string) http.Handler {
		return notifyOn(b, s)
	})
}

// againstBare runs handler (named name in the metrics) against
// bareSettle on every server target: fresh notifications for each,
// interleaved, with both rates and their ratio reported.
func againstBare(b *testing.B, name string, handler func(b *testing.B, s *sqlstore.Store, db *sql.DB, d sqlstore.Dialect, prefix string) http.Handler) {
	againstBareAt(b, 0, name, handler)
}

// againstBareAt is againstBare with the database rtt away: each round
// trip (statement, prepare, BEGIN, COMMIT) of either handler waits rtt
// before it is sent. The attempts are recorded before the wait is set.
func againstBareAt(b *testing.B, rtt time.Duration, name string, handler func(b *testing.B, s *sqlstore.Store, db *sql.DB, d sqlstore.Dialect, prefix string) http.Handler) {
	for _, tg := range targets {
		if !tg.server {
			continue
		}
		b.Run(tg.name, func(b *testing.B) {
			dsn := tg.newDSN(b)
			var db *sql.DB
			var trips *trips
			if rtt > 0 {
				db, trips = countingDB(b, tg, dsn)
			} else {
				db = tg.open(b, dsn)
			}
			s, db, prefix, otherBodies, bareBodies := freshSetupOn(b, tg, db)
			if trips != nil {
				trips.delay.Store(int64(rtt))
			}
			otherSrv := httptest.NewServer(handler(b, s, db, tg.dialect, prefix))
			defer otherSrv.Close()
			bareSrv := httptest.NewServer(bareSettle(db, tg.dialect, prefix))
			defer bareSrv.Close()
			bareRate, otherRate := interleave(b, bareSrv.URL, otherSrv.URL, bareBodies, otherBodies)
			b.ReportMetric(bareRate, "bare-req/s")
			b.ReportMetric(otherRate, name+"-req/s")
			b.ReportMetric(otherRate/bareRate, name+"/bare")
		})
	}
}

// interleave posts bareBodies to bareURL and otherBodies to otherURL from
// freshClients keep-alive clients (alternate's rounds) and returns both
// rates in notifications per second.
func interleave(b *testing.B, bareURL, otherURL string, bareBodies, otherBodies []string) (bareRate, otherRate float64) {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: freshClients, MaxConnsPerHost: freshClients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	return alternate(b,
		func(bodies []string) time.Duration { return postAll(b, hc, bareURL, bodies) }, bareBodies,
		func(bodies []string) time.Duration { return postAll(b, hc, otherURL, bodies) }, otherBodies)
}

// alternate runs postA over aBodies and postB over bBodies in 10 rounds
// of b.N/10 each that alternate which goes first, so that neither side
// always meets a warmer or a busier server, and returns both rates per
// second. The timer runs only around the rounds.
func alternate(b *testing.B, postA func([]string) time.Duration, aBodies []string, postB func([]string) time.Duration, bBodies []string) (aRate, bRate float64) {
	b.Helper()
	b.ResetTimer()
	var ta, tb time.Duration
	const rounds = 10
	for r := range rounds {
		lo, hi := r*b.N/rounds, (r+1)*b.N/rounds
		if r%2 == 0 {
			ta += postA(aBodies[lo:hi])
			tb += postB(bBodies[lo:hi])
		} else {
			tb += postB(bBodies[lo:hi])
			ta += postA(aBodies[lo:hi])
		}
	}
	b.StopTimer()
	return float64(b.N) / ta.Seconds(), float64(b.N) / tb.Seconds()
}

// shapeSettle is the kit's PostgreSQL shape (TestFreshSettlementRoundTrips:
// four statements, no transaction, two commits) in the simplest
// statements that have it: read the attempt, settle it with one
// conditional UPDATE (commit), read the business order's attempts, mark
// it fulfilled with another (commit). No schedule, money facts, lease or
// hook. BenchmarkFreshSettlementShape compares it with bareSettle: what
// any notification path with that many round trips and commits can reach.
func shapeSettle(db *sql.DB, d sqlstore.Dialect, prefix string) http.Handler {
	r := func(q string) string {
		if d != sqlstore.Postgres {
			return q
		}
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
		}
		return q
	}
	t := prefix + "orders"
	read := r("SELECT status, mch_id, amount FROM " + t + " WHERE out_trade_no = ?")
	settle := r("UPDATE " + t + " SET status = 'PAID', transaction_id = ?, updated_at = ? WHERE out_trade_no = ? AND status = 'PENDING'")
	list := r("SELECT out_trade_no, status, fulfilled FROM " + t + " WHERE business_id = ?")
	mark := r("UPDATE " + t + " SET fulfilled = 1, fulfilled_at = ?, updated_at = ? WHERE out_trade_no = ? AND status = 'PAID' AND fulfilled = 0")
	fail := func(w http.ResponseWriter) { http.Error(w, "fail", http.StatusInternalServerError) }
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := req.ParseForm(); err != nil || sign.Verify(req.PostForm, sign.MD5, benchKey) != nil {
			http.Error(w, "fail", http.StatusBadRequest)
			return
		}
		ctx, f := req.Context(), req.PostForm
		var status, mch string
		var amount int64
		if err := db.QueryRowContext(ctx, read, f.Get("out_trade_no")).Scan(&status, &mch, &amount); err != nil || status != "PENDING" {
			fail(w)
			return
		}
		now := time.Now().UnixMicro()
		res, err := db.ExecContext(ctx, settle, f.Get("transaction_id"), now, f.Get("out_trade_no"))
		if n, _ := rowsAffected(res, err); n != 1 {
			fail(w)
			return
		}
		rows, err := db.QueryContext(ctx, list, strings.TrimSuffix(f.Get("out_trade_no"), "A001"))
		if err != nil {
			fail(w)
			return
		}
		for rows.Next() {
			var sibling, siblingStatus string
			var fulfilled int
			if err := rows.Scan(&sibling, &siblingStatus, &fulfilled); err != nil {
				break
			}
		}
		if rows.Close() != nil || rows.Err() != nil {
			fail(w)
			return
		}
		res, err = db.ExecContext(ctx, mark, now, now, f.Get("out_trade_no"))
		if n, _ := rowsAffected(res, err); n != 1 {
			fail(w)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "success")
	})
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// BenchmarkFreshSettlementShape is BenchmarkFreshSettlement with
// shapeSettle in the kit's place: the kit's round trips and commits
// without its work. shape/bare bounds what kit/bare can reach without
// fewer round trips or commits (BENCHMARKS.md, issue 18.8).
//
//	go test -run '^$' -bench 'BenchmarkFreshSettlementShape$' -benchtime 4000x -count 3 .
func BenchmarkFreshSettlementShape(b *testing.B) {
	againstBare(b, "shape", func(_ *testing.B, _ *sqlstore.Store, db *sql.DB, d sqlstore.Dialect, prefix string) http.Handler {
		return shapeSettle(db, d, prefix)
	})
}

// BenchmarkFreshSettlementRemote is BenchmarkFreshSettlement with the
// database 2 ms away (CYPAY_BENCH_RTT sets another wait, e.g. 500us):
// every round trip of either handler waits that long in a driver wrapper
// before it is sent, as one to a distributed database (TiDB,
// OceanBase) or one in another zone would. There the count of round trips
// decides, not the CPU: kit/bare tends to the bare handler's round trips
// over the kit's (TestFreshSettlementRoundTrips).
//
//	go test -run '^$' -bench 'BenchmarkFreshSettlementRemote$' -benchtime 2000x -count 3 .
func BenchmarkFreshSettlementRemote(b *testing.B) {
	rtt := 2 * time.Millisecond
	if v := os.Getenv("CYPAY_BENCH_RTT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			b.Fatalf("CYPAY_BENCH_RTT=%q: want a duration such as 2ms", v)
		}
		rtt = d
	}
	againstBareAt(b, rtt, "kit", func(b *testing.B, s *sqlstore.Store, _ *sql.DB, _ sqlstore.Dialect, _ string) http.Handler {
		return notifyOn(b, s)
	})
}
