package kitprom_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
)

// paid makes otn an attempt of amount fen paid at the simulator and
// settled in k's store (by a notification posted here, synchronously).
func (k *kit) paid(t *testing.T, otn string, amount int64) *store.Order {
	t.Helper()
	// The simulator's own deliveries go to a sink; k.post settles.
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "success")
	}))
	t.Cleanup(sink.Close)
	o := k.pending(t, otn, amount, 0)
	if _, err := k.client.PreOrder(context.Background(), &model.PreOrderRequest{Channel: model.PayWeChat, MchID: mchA,
		Body: "goods", OutTradeNo: otn, TotalFee: amount, TradeType: model.TradeTypeNative,
		ProductID: "P1", NotifyURL: sink.URL}); err != nil {
		t.Fatalf("PreOrder %s: %v", otn, err)
	}
	if err := k.sim.Pay(otn); err != nil {
		t.Fatalf("sim.Pay(%s): %v", otn, err)
	}
	if got := k.post(t, o, amount, keyA); got != "success" {
		t.Fatalf("notification of %s: got %q, want success", otn, got)
	}
	return o
}

// manualClock is a clock a test moves.
type manualClock struct{ now time.Time }

func (c *manualClock) Now() time.Time { return c.now }

// TestScrapeAfterRefunds refunds through an instrumented Refunder against
// the simulator — a success, a FAIL, a CHANGE, a PROCESSING finished by
// Poll, and a refused request — and reads the refund metrics back.
func TestScrapeAfterRefunds(t *testing.T) {
	t.Parallel()
	k := newKit(t, nil)
	clock := &manualClock{now: time.Now()}
	rcfg := refund.Config{Store: k.mem, Client: k.client, Logger: quiet(), Now: clock.Now}
	k.m.InstrumentRefunder(&rcfg)
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

	ok := k.paid(t, "RFOK000001", 1000)
	refundOf(ok.OutTradeNo, 300, store.RefundSucceeded)
	if _, err := r.Refund(ctx, refund.Request{OutTradeNo: ok.OutTradeNo, Amount: 5000}); err == nil {
		t.Fatal("refund over what is left: got nil error")
	}
	fail := k.paid(t, "RFFAIL0001", 1000)
	k.sim.SetFaults(fail.OutTradeNo, gatewaytest.Faults{RefundStatus: model.RefundFail})
	refundOf(fail.OutTradeNo, 1000, store.RefundFailed)
	change := k.paid(t, "RFCHG00001", 1000)
	k.sim.SetFaults(change.OutTradeNo, gatewaytest.Faults{RefundStatus: model.RefundChange})
	refundOf(change.OutTradeNo, 200, store.RefundChanged)
	slow := k.paid(t, "RFSLOW0001", 1000)
	k.sim.SetFaults(slow.OutTradeNo, gatewaytest.Faults{RefundStatus: model.RefundProcessing})
	sv := refundOf(slow.OutTradeNo, 700, store.RefundProcessing)
	if err := k.sim.SetRefundStatus(sv.OutRefundNo, model.RefundSuccess); err != nil {
		t.Fatal(err)
	}
	clock.now = clock.now.Add(time.Minute)
	if n, err := r.Poll(ctx); n != 1 || err != nil {
		t.Fatalf("Poll: got %d, %v; want 1, nil", n, err)
	}

	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cypaykit_refunds_total", []string{"result", "requested"}, 4},
		{"cypaykit_refunds_total", []string{"result", "refused"}, 1},
		{"cypaykit_refunds_total", []string{"result", "succeeded"}, 2},
		{"cypaykit_refunds_total", []string{"result", "failed"}, 1},
		{"cypaykit_refunds_total", []string{"result", "change"}, 1},
		{"cypaykit_refunds_total", []string{"result", "processing"}, 1},
		{"cypaykit_refunds_total", []string{"result", "notsure"}, 0},
		{"cypaykit_refunds_total", []string{"result", "uncertain"}, 0},
		{"cypaykit_refunds_total", []string{"result", "error"}, 0},
		{"cypaykit_refunded_fen_total", nil, 300 + 700},
		{"cypaykit_alerts_total", []string{"kind", "refund_change"}, 1},
		{"cypaykit_gateway_requests_total", []string{"op", "refund", "result", "ok"}, 4},
	} {
		if got := value(t, k.reg, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v: got %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if problems, err := testutil.GatherAndLint(k.reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}
