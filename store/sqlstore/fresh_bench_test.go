package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	db = tg.open(b, tg.newDSN(b))
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
//	go test -run '^$' -bench BenchmarkFreshSettlement -benchtime 4000x -count 3 .
func BenchmarkFreshSettlement(b *testing.B) {
	for _, tg := range targets {
		if !tg.server {
			continue
		}
		b.Run(tg.name, func(b *testing.B) {
			s, db, prefix, kitBodies, bareBodies := freshSetup(b, tg)
			kitSrv := httptest.NewServer(notifyOn(b, s))
			defer kitSrv.Close()
			bareSrv := httptest.NewServer(bareSettle(db, tg.dialect, prefix))
			defer bareSrv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: freshClients, MaxConnsPerHost: freshClients}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr}

			b.ResetTimer()
			var bare, kit time.Duration
			const rounds = 10
			for r := range rounds {
				lo, hi := r*b.N/rounds, (r+1)*b.N/rounds
				if r%2 == 0 {
					bare += postAll(b, hc, bareSrv.URL, bareBodies[lo:hi])
					kit += postAll(b, hc, kitSrv.URL, kitBodies[lo:hi])
				} else {
					kit += postAll(b, hc, kitSrv.URL, kitBodies[lo:hi])
					bare += postAll(b, hc, bareSrv.URL, bareBodies[lo:hi])
				}
			}
			b.StopTimer()
			bareRate := float64(b.N) / bare.Seconds()
			kitRate := float64(b.N) / kit.Seconds()
			b.ReportMetric(bareRate, "bare-req/s")
			b.ReportMetric(kitRate, "kit-req/s")
			b.ReportMetric(kitRate/bareRate, "kit/bare")
		})
	}
}
