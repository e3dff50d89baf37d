package kitotel_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/observe/kitotel"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
)

// paid makes otn an attempt of 700 fen paid at the simulator and settled
// in k's store by a notification posted here.
func (k *otelKit) paid(t *testing.T, otn string) *store.Order {
	t.Helper()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "success")
	}))
	t.Cleanup(sink.Close)
	o := k.pending(t, otn, 0)
	if _, err := k.client.PreOrder(context.Background(), &model.PreOrderRequest{Channel: model.PayWeChat, MchID: mchA,
		Body: "goods", OutTradeNo: otn, TotalFee: o.Amount, TradeType: model.TradeTypeNative,
		ProductID: "P1", NotifyURL: sink.URL}); err != nil {
		t.Fatalf("PreOrder %s: %v", otn, err)
	}
	if err := k.sim.Pay(otn); err != nil {
		t.Fatalf("sim.Pay(%s): %v", otn, err)
	}
	if got := k.postNotify(t, o, keyA); got != "success" {
		t.Fatalf("notification of %s: got %q, want success", otn, got)
	}
	return o
}

// collect reads every sum through the manual reader, keyed
// "name{attrs}".
func (k *otelKit) collect(t *testing.T) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := k.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, p := range d.DataPoints {
					got[m.Name+attrs(p.Attributes)] += float64(p.Value)
				}
			}
		}
	}
	return got
}

// TestRefundMetricsAndSpans refunds through an instrumented Refunder
// against the simulator — a success, a FAIL, a CHANGE and a PROCESSING
// finished by Poll — and reads the OTel refund metrics and spans back.
func TestRefundMetricsAndSpans(t *testing.T) {
	t.Parallel()
	k := newOtelKit(t)
	now := time.Now()
	rcfg := refund.Config{Store: k.mem, Client: k.client, Logger: quiet(), Now: func() time.Time { return now }}
	k.in.InstrumentRefunder(&rcfg)
	r, err := refund.New(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	refundOf := func(otn string, amount int64, want store.RefundState) refund.View {
		t.Helper()
		v, err := r.Refund(ctx, refund.Request{OutTradeNo: otn, Amount: amount})
		if err != nil || v.Status != string(want) {
			t.Fatalf("Refund %s of %d: got %s, %v; want %s", otn, amount, v.Status, err, want)
		}
		return v
	}
	ok := k.paid(t, "OTELRF0001")
	fail := k.paid(t, "OTELRF0002")
	change := k.paid(t, "OTELRF0003")
	slow := k.paid(t, "OTELRF0004")
	k.spans.Reset()

	refundOf(ok.OutTradeNo, 300, store.RefundSucceeded)
	// Sent, then queried for its final state.
	wantTree(t, k, "cypaykit.refund", "cypaykit.refund > cypaykit.gateway refund", "cypaykit.refund > cypaykit.gateway refundquery")
	k.sim.SetFaults(fail.OutTradeNo, gatewaytest.Faults{RefundStatus: model.RefundFail})
	refundOf(fail.OutTradeNo, 700, store.RefundFailed)
	k.sim.SetFaults(change.OutTradeNo, gatewaytest.Faults{RefundStatus: model.RefundChange})
	refundOf(change.OutTradeNo, 200, store.RefundChanged)
	k.sim.SetFaults(slow.OutTradeNo, gatewaytest.Faults{RefundStatus: model.RefundProcessing})
	sv := refundOf(slow.OutTradeNo, 500, store.RefundProcessing)
	if err := k.sim.SetRefundStatus(sv.OutRefundNo, model.RefundSuccess); err != nil {
		t.Fatal(err)
	}
	k.spans.Reset()
	now = now.Add(time.Minute)
	if n, err := r.Poll(ctx); n != 1 || err != nil {
		t.Fatalf("Poll: got %d, %v; want 1, nil", n, err)
	}
	wantTree(t, k, "cypaykit.refund", "cypaykit.refund > cypaykit.gateway refundquery")

	got := k.collect(t)
	for name, v := range map[string]float64{
		"cypaykit.refunds{result=requested}":  4,
		"cypaykit.refunds{result=succeeded}":  2,
		"cypaykit.refunds{result=failed}":     1,
		"cypaykit.refunds{result=change}":     1,
		"cypaykit.refunds{result=processing}": 1,
		"cypaykit.refunds{result=uncertain}":  0,
		"cypaykit.refunded{}":                 300 + 500,
		"cypaykit.alerts{kind=refund_change}": 1,
	} {
		if got[name] != v {
			t.Errorf("%s: got %v, want %v", name, got[name], v)
		}
	}
	for name := range got {
		if strings.Contains(name, "OTELRF") {
			t.Errorf("metric %s names an order", name)
		}
	}
	if t.Failed() {
		t.Logf("collected: %v", got)
	}
}

// TestInstrumentRefunderKeepsHooks proves InstrumentRefunder chains the
// host's own Observe, Alert and Trace (calling them first) instead of
// replacing them, and still counts.
func TestInstrumentRefunderKeepsHooks(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	exp := tracetest.NewInMemoryExporter()
	in, err := kitotel.New(kitotel.Config{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)),
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	cfg := refund.Config{
		Observe: func(refund.Event) { got = append(got, "observe") },
		Alert:   func(context.Context, handler.Alert) { got = append(got, "alert") },
		Trace: func(ctx context.Context, st handler.Stage) (context.Context, func(error)) {
			got = append(got, "start "+string(st))
			return ctx, func(error) { got = append(got, "end "+string(st)) }
		},
	}
	in.InstrumentRefunder(&cfg)
	cfg.Observe(refund.Event{Result: refund.Succeeded, Amount: 42})
	cfg.Alert(context.Background(), handler.Alert{Kind: handler.AlertRefundChange})
	_, end := cfg.Trace(context.Background(), handler.StageRefund)
	end(nil)
	if want := "observe alert start refund end refund"; strings.Join(got, " ") != want {
		t.Errorf("host hooks: got %q, want %q", strings.Join(got, " "), want)
	}
	k := &otelKit{reader: reader}
	m := k.collect(t)
	if m["cypaykit.refunds{result=succeeded}"] != 1 || m["cypaykit.refunded{}"] != 42 || m["cypaykit.alerts{kind=refund_change}"] != 1 {
		t.Errorf("metrics after chained hooks: got %v", m)
	}
	if spans := exp.GetSpans(); len(spans) != 1 || spans[0].Name != "cypaykit.refund" {
		t.Errorf("spans: got %v, want one cypaykit.refund", tree(spans))
	}
}
