package handler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// bareNotify is the baseline: parse the form, answer success.
var bareNotify = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("out_trade_no") == "" {
		http.Error(w, "fail", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "success")
})

// benchKit is a Notify on memstore with n pending orders and their signed
// notification bodies; with paid set, one order is PAID and fulfilled and
// every body is its duplicate.
func benchKit(b *testing.B, n int, paid bool) (http.Handler, []string) {
	b.Helper()
	m := memstore.New()
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := handler.NewSettler(handler.SettlerConfig{Store: m, Logger: logger,
		Fulfill: func(context.Context, store.Order) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	h, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(merchants)}, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	mk := func(i int) string {
		otn := fmt.Sprintf("BENCH%08d", i)
		if err := m.Create(ctx, &store.Order{OutTradeNo: otn, BusinessID: otn, Attempt: 1, MchID: mchA,
			Channel: model.PayWeChat, TradeType: "NATIVE", Version: model.V2, Amount: 1000,
			Status: store.Pending, CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
		v, err := gatewaytest.NotificationValues(gatewaytest.Payment{MchID: mchA, OutTradeNo: otn, TotalFee: 1000, TransactionID: "T" + otn}, keyA, "")
		if err != nil {
			b.Fatal(err)
		}
		return v.Encode()
	}
	bodies := make([]string, n)
	if paid {
		body := mk(0)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", formType)
		h.ServeHTTP(rec, req)
		if rec.Body.String() != "success" {
			b.Fatalf("settling the duplicate-path order: got %q", rec.Body.String())
		}
		for i := range bodies {
			bodies[i] = body
		}
	} else {
		for i := range bodies {
			bodies[i] = mk(i)
		}
	}
	return h, bodies
}

// load posts every body once from a fixed pool of keep-alive clients and
// returns the elapsed time.
func load(b *testing.B, url string, bodies []string) time.Duration {
	b.Helper()
	const workers = 8
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var next atomic.Int64
	var bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				resp, err := hc.Post(url, formType, strings.NewReader(bodies[i]))
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
		b.Fatalf("%d of %d requests failed", n, len(bodies))
	}
	return d
}

// BenchmarkNotifyLoopback measures the Notify handler over loopback HTTP
// beside the bare handler, same load generator, same run, same bodies, and
// reports both throughputs and their ratio (target ≥ 0.7).
func BenchmarkNotifyLoopback(b *testing.B) {
	for _, tc := range []struct {
		name string
		paid bool
	}{{"duplicate", true}, {"fresh", false}} {
		b.Run(tc.name, func(b *testing.B) {
			kit, bodies := benchKit(b, b.N, tc.paid)
			bareSrv := httptest.NewServer(bareNotify)
			defer bareSrv.Close()
			kitSrv := httptest.NewServer(kit)
			defer kitSrv.Close()
			b.ResetTimer()
			// Interleave rounds, alternating which goes first, so that load
			// from elsewhere on the machine hits both alike.
			var bare, ours time.Duration
			const rounds = 10
			for r := range rounds {
				chunk := bodies[r*len(bodies)/rounds : (r+1)*len(bodies)/rounds]
				if r%2 == 0 {
					bare += load(b, bareSrv.URL, chunk)
					ours += load(b, kitSrv.URL, chunk)
				} else {
					ours += load(b, kitSrv.URL, chunk)
					bare += load(b, bareSrv.URL, chunk)
				}
			}
			b.StopTimer()
			bareRate := float64(b.N) / bare.Seconds()
			kitRate := float64(b.N) / ours.Seconds()
			b.ReportMetric(bareRate, "bare-req/s")
			b.ReportMetric(kitRate, "kit-req/s")
			b.ReportMetric(kitRate/bareRate, "ratio")
		})
	}
}

// BenchmarkNotifyInProcess measures one notification through ServeHTTP
// with httptest.NewRecorder: time and allocations per notification.
func BenchmarkNotifyInProcess(b *testing.B) {
	for _, tc := range []struct {
		name string
		paid bool
		bare bool
	}{{"bare", true, true}, {"duplicate", true, false}, {"fresh", false, false}} {
		b.Run(tc.name, func(b *testing.B) {
			kit, bodies := benchKit(b, b.N, tc.paid)
			h := kit
			if tc.bare {
				h = bareNotify
			}
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				reqs[i] = httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader(bodies[i]))
				reqs[i].Header.Set("Content-Type", formType)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, reqs[i])
				if rec.Body.String() != "success" {
					b.Fatalf("got %q", rec.Body.String())
				}
			}
		})
	}
}
