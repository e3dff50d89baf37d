package refund_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
)

// wrongKey signs a reply with a key the kit does not hold.
const wrongKey = "not-the-merchant-key-0123456789ab"

// refundListReply is a refundquery (or refund) reply saying that refund
// outRefundNo of otn has status, unsigned.
func refundListReply(otn, outRefundNo string, amount int64, status string) map[string]string {
	return map[string]string{"state": "SUCCESS", "code": "10000", "trade_state": "SUCCESS",
		"mch_id": handlertest.MchA, "out_trade_no": otn, "out_refund_no": outRefundNo, "refund_id": "5000" + otn,
		"refund_fee": fmt.Sprint(amount), "base_refund_fee": fmt.Sprint(amount), "refund_count": "1",
		"refund_list": fmt.Sprintf(`[{"serial_no":"1","refund_id":"5000%s","out_refund_no":%q,"refund_fee":%d,"base_refund_fee":%d,"refund_status":%q,"refund_time":"20261207120000"}]`,
			otn, outRefundNo, amount, amount, status)}
}

// wantRefundUndecided fails t unless the refund is stored in flight with
// nothing the gateway would have to say: no refund_id, no refund time,
// no final state, and the attempt's money still reserved, not refunded.
func wantRefundUndecided(t testing.TB, e *env, otn, outRefundNo string, reserved int64, what string) {
	t.Helper()
	ref, err := e.Mem.GetRefund(context.Background(), outRefundNo)
	if err != nil {
		t.Fatal(err)
	}
	if ref.State != store.RefundPending || ref.RefundID != "" || !ref.RefundedAt.IsZero() {
		t.Errorf("%s: refund stored as %s refund_id=%q refunded_at=%v, want PENDING and nothing from the gateway",
			what, ref.State, ref.RefundID, ref.RefundedAt)
	}
	if got := totals(t, e, otn); got.Reserved != reserved || got.Refunded != 0 {
		t.Errorf("%s: totals %+v, want %d reserved and nothing refunded", what, got, reserved)
	}
	if st := e.Get(t, otn).Status; st != store.Paid {
		t.Errorf("%s: attempt %s, want PAID", what, st)
	}
	for _, a := range e.Rec.Alerts() {
		if a.Kind == handler.AlertRefundChange {
			t.Errorf("%s: AlertRefundChange raised on an unverified reply", what)
		}
	}
}

// TestRefundOnPathRewrites: whatever a party on the path makes the refund
// and refundquery replies say — SUCCESS for a refund the gateway refused,
// FAIL for one it made, CHANGE, NOTSURE — unsigned or signed with a wrong
// key, the refund stays PENDING with its amount reserved; when the path is
// clean, the next poll records what the gateway signed.
func TestRefundOnPathRewrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		truth  model.RefundStatus // what the gateway did
		status string             // what the path says
		resign bool
		noTS   bool // without trade_state, as in the attack of issue 16
	}{
		{"FAIL for a refund made", model.RefundSuccess, "FAIL", false, false},
		{"SUCCESS for a refund refused", model.RefundFail, "SUCCESS", false, false},
		{"CHANGE for a refund made", model.RefundSuccess, "CHANGE", false, false},
		{"NOTSURE for a refund made", model.RefundSuccess, "NOTSURE", false, false},
		{"PROCESSING for a refund made", model.RefundSuccess, "PROCESSING", false, false},
		{"FAIL, wrong key", model.RefundSuccess, "FAIL", true, false},
		{"SUCCESS, wrong key", model.RefundFail, "SUCCESS", true, false},
		{"CHANGE, wrong key", model.RefundSuccess, "CHANGE", true, false},
		{"FAIL for a refund made, no trade_state", model.RefundSuccess, "FAIL", false, true},
		{"SUCCESS for a refund refused, no trade_state", model.RefundFail, "SUCCESS", false, true},
		{"CHANGE for a refund made, no trade_state", model.RefundSuccess, "CHANGE", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, envOptions{})
			otn := e.PaidAttempt(t, "RONPATH1", 1000)
			e.Sim.SetFaults(otn, gatewaytest.Faults{RefundStatus: tc.truth})
			rw := func(form url.Values, reply map[string]string) {
				gatewaytest.Replace(refundListReply(otn, form.Get("out_refund_no"), 400, tc.status))(reply)
				if tc.noTS {
					gatewaytest.Drop("trade_state")(reply)
				}
				if tc.resign {
					gatewaytest.Resign("", wrongKey)(reply)
				}
			}
			e.OnPath.RewriteEach(client.OpRefund, rw)
			e.OnPath.RewriteEach(client.OpRefundQuery, rw)
			r := e.refunder(t, nil)
			v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 400})
			if v.Final() {
				t.Fatalf("Refund: got %s, want it in flight", v.Status)
			}
			wantRefundUndecided(t, e, otn, v.OutRefundNo, 400, "after Refund")
			for range 3 {
				e.Clock.Advance(time.Hour)
				if _, err := r.Poll(ctx); err != nil {
					t.Fatal(err)
				}
			}
			wantRefundUndecided(t, e, otn, v.OutRefundNo, 400, "after polls")
			if e.Rec.Alerted(handler.AlertUnsignedReply) == 0 {
				t.Error("no AlertUnsignedReply after a run of unverified replies")
			}
			// A clean path: the gateway's signed answer decides.
			e.OnPath.Clear()
			e.Clock.Advance(time.Hour)
			if _, err := r.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			want := store.RefundSucceeded
			if tc.truth == model.RefundFail {
				want = store.RefundFailed
			}
			if got, _ := r.Get(ctx, v.OutRefundNo); got.Status != string(want) {
				t.Errorf("after a signed reply: got %s, want %s", got.Status, want)
			}
		})
	}
}

// TestRefundUnsignedProperty: over every refund_status and every state /
// code / trade_state of the reply, unsigned or signed with a wrong key and
// given to both the refund and the refundquery call, no refund is decided.
// That includes an unsigned plain error (state FAIL or a 2xxxx code)
// with code 20007 or 20010 to both calls, the way the gateway refuses a
// refund and then does not know its number: the gateway never signs
// errors, so that pair is forgeable and decides nothing either
// (TestRefundRefusedStaysReserved).
func TestRefundUnsignedProperty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RPROP1", 100000)
	var (
		mu  sync.Mutex
		cur func(form url.Values, reply map[string]string)
	)
	rw := func(form url.Values, reply map[string]string) {
		mu.Lock()
		defer mu.Unlock()
		cur(form, reply)
	}
	e.OnPath.RewriteEach(client.OpRefund, rw)
	e.OnPath.RewriteEach(client.OpRefundQuery, rw)
	r := e.refunder(t, nil)
	reserved := int64(0)
	n := 0
	for _, status := range []string{"SUCCESS", "FAIL", "CHANGE", "NOTSURE", "PROCESSING", "", "OTHER"} {
		for _, state := range []string{"SUCCESS", "FAIL", ""} {
			for _, code := range []string{"10000", "10004", "20006", "20007", "20008", "20010", ""} {
				for _, ts := range []string{"SUCCESS", "FAIL", ""} {
					for _, wrongSign := range []bool{false, true} {
						n++
						mu.Lock()
						cur = func(form url.Values, reply map[string]string) {
							f := refundListReply(otn, form.Get("out_refund_no"), 1, status)
							for name, val := range map[string]string{"state": state, "code": code, "trade_state": ts} {
								if val == "" {
									delete(f, name)
								} else {
									f[name] = val
								}
							}
							gatewaytest.Replace(f)(reply)
							if wrongSign {
								gatewaytest.Resign("", wrongKey)(reply)
							}
						}
						mu.Unlock()
						got, err := r.Refund(ctx, refund.Request{OutTradeNo: otn, Amount: 1})
						if err != nil {
							t.Fatalf("Refund: %v", err)
						}
						reserved++
						what := fmt.Sprintf("refund_status %q state %q code %q trade_state %q wrong sign %v", status, state, code, ts, wrongSign)
						wantRefundUndecided(t, e, otn, got.OutRefundNo, reserved, what)
						if t.Failed() {
							t.FailNow()
						}
					}
				}
			}
		}
	}
	t.Logf("%d variants, none decided a refund", n)
}
