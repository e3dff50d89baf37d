package kitotel_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/observe/kitotel"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

const (
	mchA     = "M100001"
	keyA     = "merchant-key-a-0123456789abcdef"
	formType = "application/x-www-form-urlencoded"
)

func keyring() client.Keyring {
	return client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{mchA: keyA})}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// otelKit is a host wired with kitotel over the SDK's in-memory exporter
// and a manual metric reader.
type otelKit struct {
	spans   *tracetest.InMemoryExporter
	reader  *sdkmetric.ManualReader
	mem     *memstore.Store
	settler *handler.Settler
	notify  *handler.Notify
	pre     *handler.PreOrder
	client  *client.Client
	rcfg    handler.ReconcilerConfig
	in      *kitotel.Instrumentation
	sim     *gatewaytest.Server
}

func newOtelKit(t *testing.T) *otelKit {
	t.Helper()
	k := &otelKit{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader(), mem: memstore.New()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(k.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(k.reader))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	in, err := kitotel.New(kitotel.Config{TracerProvider: tp, MeterProvider: mp, Pending: k.mem})
	if err != nil {
		t.Fatal(err)
	}
	sim := gatewaytest.RunT(t, gatewaytest.Config{Merchants: map[string]string{mchA: keyA}, TimeScale: 0.001})
	k.in, k.sim = in, sim
	ccfg := client.Config{GatewayURL: sim.URL, OpenURL: sim.URL, Keys: keyring(), HTTPClient: &http.Client{Timeout: 10 * time.Second}}
	in.InstrumentClient(&ccfg)
	if k.client, err = client.New(ccfg); err != nil {
		t.Fatal(err)
	}
	scfg := handler.SettlerConfig{Store: k.mem, Logger: quiet(), Fulfill: func(context.Context, store.Order) error { return nil }}
	in.InstrumentSettler(&scfg)
	if k.settler, err = handler.NewSettler(scfg); err != nil {
		t.Fatal(err)
	}
	if k.notify, err = handler.NewNotify(handler.NotifyConfig{Settler: k.settler, Keys: keyring(), Logger: quiet()}); err != nil {
		t.Fatal(err)
	}
	pcfg := handler.PreOrderConfig{Store: k.mem, Client: k.client, NotifyURL: "http://shop.example/notify", Logger: quiet(),
		Authorize: handler.AllowAnyone,
		Resolve: func(context.Context, string) (handler.Purchase, error) {
			return handler.Purchase{MchID: mchA, Amount: 100, Body: "goods"}, nil
		}}
	in.InstrumentPreOrder(&pcfg)
	if k.pre, err = handler.NewPreOrder(pcfg); err != nil {
		t.Fatal(err)
	}
	k.rcfg = handler.ReconcilerConfig{Settler: k.settler, Client: k.client, Logger: quiet()}
	in.InstrumentReconciler(&k.rcfg)
	return k
}

func (k *otelKit) pending(t *testing.T, otn string, age time.Duration) *store.Order {
	t.Helper()
	at := time.Now().Add(-age)
	o := &store.Order{OutTradeNo: otn, BusinessID: "B" + otn, Attempt: 1, MchID: mchA,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: 700, Status: store.Pending, CreatedAt: at, UpdatedAt: at}
	if err := k.mem.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

func (k *otelKit) postNotify(t *testing.T, o *store.Order, key string) string {
	t.Helper()
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{MchID: o.MchID, OutTradeNo: o.OutTradeNo,
		TotalFee: o.Amount, TransactionID: "T" + o.OutTradeNo}, key, "")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", formType)
	w := httptest.NewRecorder()
	k.notify.ServeHTTP(w, r)
	return w.Body.String()
}

// tree renders the finished spans as "parent > child" lines (roots bare),
// sorted, with " !" after a span whose status is an error.
func tree(spans tracetest.SpanStubs) []string {
	names := map[string]string{}
	for _, s := range spans {
		names[s.SpanContext.SpanID().String()] = s.Name
	}
	var out []string
	for _, s := range spans {
		line := s.Name
		if s.Parent.IsValid() {
			line = names[s.Parent.SpanID().String()] + " > " + s.Name
		}
		if s.Status.Code == codes.Error {
			line += " !"
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

func wantTree(t *testing.T, k *otelKit, want ...string) {
	t.Helper()
	got := tree(k.spans.GetSpans())
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("spans:\ngot\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	k.spans.Reset()
}

// TestSpans proves the span tree of a notification (verify and settle
// under notify, fulfil under settle), of a forged one (an error), of a
// pre-order with its gateway call, and of a reconciler pass with its
// query.
func TestSpans(t *testing.T) {
	t.Parallel()
	k := newOtelKit(t)
	o := k.pending(t, "OTELPAID01", 0)
	if got := k.postNotify(t, o, keyA); got != "success" {
		t.Fatalf("notification: got %q, want success", got)
	}
	wantTree(t, k, "cypaykit.notify", "cypaykit.notify > cypaykit.verify", "cypaykit.notify > cypaykit.settle",
		"cypaykit.settle > cypaykit.fulfil")

	forged := k.pending(t, "OTELFORGE1", 0)
	if got := k.postNotify(t, forged, "not-the-key-0123456789abcdef0123"); got != "fail" {
		t.Fatalf("forged notification: got %q, want fail", got)
	}
	wantTree(t, k, "cypaykit.notify !", "cypaykit.notify > cypaykit.verify !")

	r := httptest.NewRequest(http.MethodPost, "/preorder", strings.NewReader(`{"order_id":"OTELPO1","channel":"WECHAT"}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	k.pre.ServeHTTP(w, r)
	if w.Code != http.StatusCreated {
		t.Fatalf("pre-order: got %d %s, want 201", w.Code, w.Body)
	}
	wantTree(t, k, "cypaykit.preorder", "cypaykit.preorder > cypaykit.gateway preorder")

	k.pending(t, "OTELLOST01", time.Minute)
	rec, err := handler.NewReconciler(k.rcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	wantTree(t, k, "cypaykit.reconcile", "cypaykit.reconcile > cypaykit.gateway orderquery")
}

// TestTransportMarksServerErrors proves a 5xx from the gateway marks the
// gateway span as an error, with its status code.
func TestTransportMarksServerErrors(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	in, err := kitotel.New(kitotel.Config{TracerProvider: tp, MeterProvider: sdkmetric.NewMeterProvider()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	ccfg := client.Config{GatewayURL: srv.URL, OpenURL: srv.URL, Keys: keyring()}
	in.InstrumentClient(&ccfg)
	c, err := client.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OrderQuery(context.Background(), &model.OrderQueryRequest{PayType: model.PayWeChat, MchID: mchA, OutTradeNo: "X0001"}); err == nil {
		t.Fatal("OrderQuery against a 502: got nil error")
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "cypaykit.gateway orderquery" || spans[0].Status.Code != codes.Error {
		t.Fatalf("spans: got %+v, want one failed cypaykit.gateway orderquery", tree(spans))
	}
	var status int64
	for _, a := range spans[0].Attributes {
		if a.Key == "http.response.status_code" {
			status = a.Value.AsInt64()
		}
	}
	if status != http.StatusBadGateway {
		t.Errorf("http.response.status_code: got %d, want 502", status)
	}
}

// TestMetrics proves the OTel metrics carry the same measurements as
// kitprom's, read through a manual reader.
func TestMetrics(t *testing.T) {
	t.Parallel()
	k := newOtelKit(t)
	o := k.pending(t, "OTELMET001", 0)
	for range 2 {
		if got := k.postNotify(t, o, keyA); got != "success" {
			t.Fatalf("notification: got %q, want success", got)
		}
	}
	tampered := k.pending(t, "OTELMET002", 0)
	tampered.Amount = 1 // the notification says 1 fen; the store 700
	if got := k.postNotify(t, tampered, keyA); got != "fail" {
		t.Fatalf("tampered notification: got %q, want fail", got)
	}
	if _, err := k.client.OrderQuery(context.Background(), &model.OrderQueryRequest{PayType: model.PayWeChat, MchID: mchA, OutTradeNo: "NOSUCH0001"}); err == nil {
		t.Fatal("OrderQuery of an unknown order: got nil error")
	}
	var rm metricdata.ResourceMetrics
	if err := k.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[m.Name+attrs(p.Attributes)] += float64(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					got[m.Name+attrs(p.Attributes)] = float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					got[m.Name+attrs(p.Attributes)] += float64(p.Count)
				}
			}
		}
	}
	for name, v := range map[string]float64{
		"cypaykit.notifications{outcome=settled,source=notify}":     1,
		"cypaykit.notifications{outcome=duplicate,source=notify}":   1,
		"cypaykit.notifications{outcome=mismatch,source=notify}":    1,
		"cypaykit.notification.duration{}":                          3,
		"cypaykit.fulfilments{result=ok}":                           1,
		"cypaykit.fulfilment.duration{}":                            1,
		"cypaykit.alerts{kind=amount_mismatch}":                     1,
		"cypaykit.gateway.requests{op=orderquery,result=not_found}": 1,
		"cypaykit.gateway.request.duration{op=orderquery}":          1,
		"cypaykit.pending_attempts{}":                               1,
	} {
		if got[name] != v {
			t.Errorf("%s: got %v, want %v", name, got[name], v)
		}
	}
	for name := range got {
		if strings.Contains(name, "OTELMET") || strings.Contains(name, "NOSUCH") {
			t.Errorf("metric %s names an order", name)
		}
	}
	if t.Failed() {
		t.Logf("collected: %v", got)
	}
}

func attrs(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	return "{" + strings.Join(parts, ",") + "}"
}
