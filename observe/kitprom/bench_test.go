package kitprom_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/observe/kitprom"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// duplicateKit returns a Notify whose one order is PAID and fulfilled,
// and the body of its (duplicate) notification; instrumented wires every
// kitprom hook.
func duplicateKit(b *testing.B, instrumented bool) (http.Handler, string) {
	b.Helper()
	mem := memstore.New()
	cfg := handler.SettlerConfig{Store: mem, Logger: quiet(),
		Fulfill: func(context.Context, store.Order) error { return nil }}
	if instrumented {
		m, err := kitprom.New(kitprom.Config{Registerer: prometheus.NewRegistry(), Pending: mem})
		if err != nil {
			b.Fatal(err)
		}
		m.InstrumentSettler(&cfg)
	}
	s, err := handler.NewSettler(cfg)
	if err != nil {
		b.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: keyring(), Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	k := &kit{mem: mem, notify: n}
	o := k.pending(b, "BENCHDUP01", 1000, 0)
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{MchID: o.MchID, OutTradeNo: o.OutTradeNo,
		TotalFee: o.Amount, TransactionID: "T" + o.OutTradeNo}, keyA, "")
	if err != nil {
		b.Fatal(err)
	}
	body := v.Encode()
	if got := serve(n, body); got != "success" {
		b.Fatalf("settling the order: got %q", got)
	}
	return n, body
}

func serve(h http.Handler, body string) string {
	r := httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader(body))
	r.Header.Set("Content-Type", formType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Body.String()
}

// BenchmarkDuplicateRatio drives the duplicate-notification path through
// Notify.ServeHTTP in process, uninstrumented and with every kitprom hook,
// in interleaved batches (alternating which goes first, so that load from
// elsewhere hits both alike), and reports both times per notification and
// ratio = uninstrumented time / instrumented time, the median over the
// batches: the instrumented path's speed relative to the bare one
// (target ≥ 0.9).
func BenchmarkDuplicateRatio(b *testing.B) {
	bare, body := duplicateKit(b, false)
	inst, _ := duplicateKit(b, true)
	run := func(h http.Handler, n int) time.Duration {
		start := time.Now()
		for range n {
			if got := serve(h, body); got != "success" {
				b.Fatalf("duplicate: got %q", got)
			}
		}
		return time.Since(start)
	}
	const batch = 50
	var (
		tBare, tInst time.Duration
		ratios       []float64
	)
	b.ResetTimer()
	for done, round := 0, 0; done < b.N; round++ {
		n := min(batch, b.N-done)
		var db, di time.Duration
		if round%2 == 0 {
			db = run(bare, n)
			di = run(inst, n)
		} else {
			di = run(inst, n)
			db = run(bare, n)
		}
		tBare, tInst = tBare+db, tInst+di
		ratios = append(ratios, db.Seconds()/di.Seconds())
		done += n
	}
	b.StopTimer()
	slices.Sort(ratios)
	b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/op")
	b.ReportMetric(float64(tInst.Nanoseconds())/float64(b.N), "instrumented-ns/op")
	// The median of the batches' ratios: a burst of load elsewhere on
	// the machine spoils a few batches, not the figure.
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
}
