package kitprom_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/observe/kitprom"
	"github.com/cypaykit/kit/refund"
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

// kit is a host wired with kitprom the way the README shows.
type kit struct {
	reg     *prometheus.Registry
	m       *kitprom.Metrics
	mem     *memstore.Store
	settler *handler.Settler
	notify  *handler.Notify
	sim     *gatewaytest.Server
	client  *client.Client
}

func newKit(t *testing.T, fulfil func(context.Context, store.Order) error) *kit {
	t.Helper()
	k := &kit{reg: prometheus.NewRegistry(), mem: memstore.New()}
	var err error
	k.m, err = kitprom.New(kitprom.Config{Registerer: k.reg, Pending: k.mem})
	if err != nil {
		t.Fatal(err)
	}
	k.sim = gatewaytest.RunT(t, gatewaytest.Config{Merchants: map[string]string{mchA: keyA}, TimeScale: 0.001})
	ccfg := client.Config{GatewayURL: k.sim.URL, OpenURL: k.sim.URL, Keys: keyring(),
		HTTPClient: &http.Client{Timeout: 10 * time.Second}}
	k.m.InstrumentClient(&ccfg)
	if k.client, err = client.New(ccfg); err != nil {
		t.Fatal(err)
	}
	scfg := handler.SettlerConfig{Store: k.mem, Fulfill: fulfil, Logger: quiet()}
	k.m.InstrumentSettler(&scfg)
	if k.settler, err = handler.NewSettler(scfg); err != nil {
		t.Fatal(err)
	}
	if k.notify, err = handler.NewNotify(handler.NotifyConfig{Settler: k.settler, Keys: keyring(), Logger: quiet()}); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *kit) pending(t testing.TB, otn string, amount int64, age time.Duration) *store.Order {
	t.Helper()
	at := time.Now().Add(-age)
	o := &store.Order{OutTradeNo: otn, BusinessID: "B" + otn, Attempt: 1, MchID: mchA,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: amount, Status: store.Pending, CreatedAt: at, UpdatedAt: at}
	if err := k.mem.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

// post sends a notification for o paying fee (signed with key) and
// returns the reply.
func (k *kit) post(t testing.TB, o *store.Order, fee int64, key string) string {
	t.Helper()
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{MchID: o.MchID, OutTradeNo: o.OutTradeNo,
		TotalFee: fee, TransactionID: "T" + o.OutTradeNo}, key, "")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", formType)
	w := httptest.NewRecorder()
	k.notify.ServeHTTP(w, r)
	return w.Body.String()
}

// value is the scraped value of one series: a counter, a gauge, or a
// histogram's sample count.
func value(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if len(got) != len(want) {
				continue
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no series %s%v in the scrape", name, labels)
	return 0
}

// TestScrapeAfterPayments drives notifications, a pre-order and a
// reconciler pass through an instrumented kit and reads every metric back
// from the registry.
func TestScrapeAfterPayments(t *testing.T) {
	t.Parallel()
	hookFails := true
	k := newKit(t, func(_ context.Context, o store.Order) error {
		if o.OutTradeNo == "FLAKY00001" && hookFails {
			return errors.New("warehouse down")
		}
		return nil
	})
	paid := k.pending(t, "PAID000001", 1999, 0)
	for range 3 {
		if got := k.post(t, paid, 1999, keyA); got != "success" {
			t.Fatalf("notification: got %q, want success", got)
		}
	}
	forged := k.pending(t, "FORGED0001", 1999, 0)
	if got := k.post(t, forged, 1999, "not-the-merchant-key-0123456789"); got != "fail" {
		t.Fatalf("forged notification: got %q, want fail", got)
	}
	tampered := k.pending(t, "TAMPER0001", 1999, 0)
	if got := k.post(t, tampered, 1, keyA); got != "fail" {
		t.Fatalf("tampered amount: got %q, want fail", got)
	}
	flaky := k.pending(t, "FLAKY00001", 500, 0)
	if got := k.post(t, flaky, 500, keyA); got != "fail" {
		t.Fatalf("notification with a failing hook: got %q, want fail", got)
	}

	ctx := context.Background()
	if _, err := k.client.PreOrder(ctx, &model.PreOrderRequest{Channel: model.PayWeChat, MchID: mchA,
		Body: "goods", OutTradeNo: "GWCALL0001", TotalFee: 100, TradeType: model.TradeTypeNative,
		ProductID: "P1", NotifyURL: "http://shop.example/notify"}); err != nil {
		t.Fatalf("PreOrder: %v", err)
	}

	k.pending(t, "LOST000001", 300, time.Minute) // unknown to the gateway
	hookFails = false
	rcfg := handler.ReconcilerConfig{Settler: k.settler, Client: k.client, Logger: quiet()}
	k.m.InstrumentReconciler(&rcfg)
	r, err := handler.NewReconciler(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunOnce(ctx); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}

	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cypaykit_notifications_total", []string{"outcome", "settled", "source", "notify"}, 1},
		{"cypaykit_notifications_total", []string{"outcome", "duplicate", "source", "notify"}, 2},
		{"cypaykit_notifications_total", []string{"outcome", "bad_sign", "source", "notify"}, 1},
		{"cypaykit_notifications_total", []string{"outcome", "mismatch", "source", "notify"}, 1},
		{"cypaykit_notifications_total", []string{"outcome", "hook_error", "source", "notify"}, 1},
		{"cypaykit_notifications_total", []string{"outcome", "settled", "source", "retry"}, 1},
		{"cypaykit_notifications_total", []string{"outcome", "unknown_order", "source", "notify"}, 0},
		{"cypaykit_notification_duration_seconds", nil, 6},
		{"cypaykit_fulfilments_total", []string{"result", "ok"}, 2},
		{"cypaykit_fulfilments_total", []string{"result", "error"}, 1},
		{"cypaykit_fulfilment_duration_seconds", nil, 3},
		{"cypaykit_gateway_requests_total", []string{"op", "preorder", "result", "ok"}, 1},
		{"cypaykit_gateway_requests_total", []string{"op", "orderquery", "result", "not_found"}, 1},
		{"cypaykit_gateway_request_duration_seconds", []string{"op", "preorder"}, 1},
		{"cypaykit_reconcile_checks_total", []string{"result", "settled"}, 1},
		{"cypaykit_reconcile_passes_total", nil, 1},
		{"cypaykit_reconcile_failed_checks_total", nil, 0},
		{"cypaykit_alerts_total", []string{"kind", "amount_mismatch"}, 1},
		{"cypaykit_alerts_total", []string{"kind", "double_payment"}, 0},
		// FORGED, TAMPER and LOST are still PENDING.
		{"cypaykit_pending_attempts", nil, 3},
	} {
		if got := value(t, k.reg, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v: got %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if problems, err := testutil.GatherAndLint(k.reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// allowed lists every label value each label may take.
var allowed = map[string][]string{
	"outcome": {"settled", "duplicate", "bad_sign", "malformed", "unknown_order", "mismatch", "not_paid",
		"store_error", "hook_error", "timeout", "config_error", "closed", "other"},
	"source": {"notify", "query", "retry", "other"},
	"op":     {"preorder", "orderquery", "cancel", "refund", "refundquery", "other"},
	"result": {"ok", "error", "need_query", "unknown_outcome", "not_found", "bad_request", "merchant_config",
		"response_sign", "unsigned", "mismatch", "unknown_merchant", "gateway_error", "canceled", "other",
		"settled", "duplicate", "malformed", "unknown_order", "not_paid", "store_error", "hook_error",
		"timeout", "config_error", "closed", "bad_sign",
		"requested", "refused", "succeeded", "failed", "change", "processing", "notsure", "uncertain"},
	"kind": {"amount_mismatch", "mch_id_mismatch", "paid_after_close", "transaction_conflict",
		"refunded_unsettled", "double_payment", "refund_change", "paid_after_abandon", "other"},
}

// TestLabelValuesClosed feeds the hooks values from outside every closed
// set — order numbers in each free-text field, unknown outcomes, sources,
// kinds, operations and results — and proves every scraped label value
// is still one of a fixed list, so no input can add a series.
func TestLabelValuesClosed(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := kitprom.New(kitprom.Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 50 {
		otn := fmt.Sprintf("ORDER%05d", i)
		m.Observe(handler.Event{Outcome: handler.Outcome(100 + i), OutTradeNo: otn, Source: handler.Source(otn), Err: errors.New(otn)})
		m.Observe(handler.Event{Outcome: handler.Settled, OutTradeNo: otn, Source: handler.SourceQuery})
		m.Alert(ctx, handler.Alert{Kind: handler.AlertKind(otn), OutTradeNo: otn, BusinessID: otn, MchID: otn})
		m.Alert(ctx, handler.Alert{Kind: handler.AlertDoublePayment, OutTradeNo: otn})
		m.ObserveCall(client.CallEvent{Op: "PreOrder_" + otn, Result: otn, Err: errors.New(otn)})
		m.ObserveCall(client.CallEvent{Op: client.OpOrderQuery, Result: client.CallResult(errors.New(otn))})
		_, end := m.Trace(ctx, handler.Stage(otn))
		end(errors.New(otn))
		_, end = m.Trace(ctx, handler.StageFulfil)
		end(errors.New(otn))
		m.ObservePass(handler.PassEvent{Pending: i, Checked: i, Failed: 1})
		m.ObserveRefund(refund.Event{Result: refund.Result(otn), Amount: 1, OutRefundNo: otn, OutTradeNo: otn})
		m.ObserveRefund(refund.Event{Result: refund.Succeeded, Amount: 10, OutRefundNo: otn, OutTradeNo: otn})
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			series++
			for _, lp := range metric.GetLabel() {
				checkLabel(t, mf, lp)
			}
		}
	}
	// Zero-initialised series plus the "other" ones; an order number
	// turned into a label would add 50.
	if series > 75 {
		t.Errorf("series: got %d, want a bounded number", series)
	}
	if got := value(t, reg, "cypaykit_notifications_total", "outcome", "other", "source", "other"); got != 50 {
		t.Errorf("unknown outcome and source: got %v, want 50 under other", got)
	}
	if got := value(t, reg, "cypaykit_refunds_total", "result", "other"); got != 50 {
		t.Errorf("unknown refund result: got %v, want 50 under other", got)
	}
	if got := value(t, reg, "cypaykit_refunded_fen_total"); got != 500 {
		t.Errorf("refunded fen: got %v, want 500 (succeeded refunds only)", got)
	}
	if got := value(t, reg, "cypaykit_gateway_requests_total", "op", "other", "result", "other"); got != 50 {
		t.Errorf("unknown op and result: got %v, want 50 under other", got)
	}
}

func checkLabel(t *testing.T, mf *dto.MetricFamily, lp *dto.LabelPair) {
	t.Helper()
	for _, v := range allowed[lp.GetName()] {
		if v == lp.GetValue() {
			return
		}
	}
	t.Errorf("%s: label %s=%q is outside its closed set", mf.GetName(), lp.GetName(), lp.GetValue())
}

// failingCounter is a store.PendingCounter that cannot count.
type failingCounter struct{}

func (failingCounter) CountPending(context.Context) (int64, error) {
	return 0, errors.New("database down")
}

// TestPendingCountFails proves a failed count leaves the gauge out of the
// scrape (never a wrong zero) and is counted.
func TestPendingCountFails(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := kitprom.New(kitprom.Config{Registerer: reg, Pending: failingCounter{}}); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "cypaykit_pending_attempts"); err != nil || n != 0 {
		t.Errorf("pending gauge with a failing count: got %d series (err %v), want none", n, err)
	}
	// GatherAndCount scraped once, value scrapes again.
	if got := value(t, reg, "cypaykit_pending_count_errors_total"); got < 1 {
		t.Errorf("count errors: got %v, want at least 1", got)
	}
}

// TestPendingNotConfigured proves the gauge is absent without a counter.
func TestPendingNotConfigured(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := kitprom.New(kitprom.Config{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "cypaykit_pending_attempts", "cypaykit_pending_count_errors_total"); err != nil || n != 0 {
		t.Errorf("pending series without Config.Pending: got %d (err %v), want none", n, err)
	}
}

// TestNewRefusesDoubleRegistration proves a second New on one registry
// fails instead of panicking or splitting the counts.
func TestNewRefusesDoubleRegistration(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := kitprom.New(kitprom.Config{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := kitprom.New(kitprom.Config{Registerer: reg}); err == nil {
		t.Error("second New on one registry: got nil error")
	}
	if _, err := kitprom.New(kitprom.Config{Registerer: prometheus.NewRegistry(), PendingTimeout: -1}); err == nil {
		t.Error("negative PendingTimeout: got nil error")
	}
}

// TestInstrumentKeepsHooks proves the Instrument functions chain the
// host's own hooks instead of replacing them, and keep a Trace's context.
func TestInstrumentKeepsHooks(t *testing.T) {
	t.Parallel()
	m, err := kitprom.New(kitprom.Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	type key struct{}
	scfg := handler.SettlerConfig{
		Observe: func(handler.Event) { got = append(got, "observe") },
		Alert:   func(context.Context, handler.Alert) { got = append(got, "alert") },
		Trace: func(ctx context.Context, st handler.Stage) (context.Context, func(error)) {
			got = append(got, "start "+string(st))
			return context.WithValue(ctx, key{}, "span"), func(error) { got = append(got, "end "+string(st)) }
		},
	}
	m.InstrumentSettler(&scfg)
	ccfg := client.Config{Observe: func(client.CallEvent) { got = append(got, "call") }}
	m.InstrumentClient(&ccfg)
	rcfg := handler.ReconcilerConfig{ObservePass: func(handler.PassEvent) { got = append(got, "pass") }}
	m.InstrumentReconciler(&rcfg)
	fcfg := refund.Config{
		Observe: func(refund.Event) { got = append(got, "refund") },
		Alert:   func(context.Context, handler.Alert) { got = append(got, "refund alert") },
	}
	m.InstrumentRefunder(&fcfg)

	scfg.Observe(handler.Event{Outcome: handler.Settled, Source: handler.SourceNotify})
	scfg.Alert(context.Background(), handler.Alert{Kind: handler.AlertAmountMismatch})
	ctx, end := scfg.Trace(context.Background(), handler.StageFulfil)
	if ctx.Value(key{}) != "span" {
		t.Error("chained Trace lost the host's context")
	}
	end(nil)
	ccfg.Observe(client.CallEvent{Op: client.OpCancel, Result: client.ResultOK})
	rcfg.ObservePass(handler.PassEvent{})
	fcfg.Observe(refund.Event{Result: refund.Requested, Amount: 1})
	fcfg.Alert(context.Background(), handler.Alert{Kind: handler.AlertRefundChange})
	want := "observe alert start fulfil end fulfil call pass refund refund alert"
	if strings.Join(got, " ") != want {
		t.Errorf("host hooks: got %q, want %q", strings.Join(got, " "), want)
	}
}
