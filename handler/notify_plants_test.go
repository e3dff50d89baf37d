package handler_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
)

// TestFailedPaymentOfAnotherMerchant: under v1 the agent key signs every
// merchant's notifications, so a genuine failed-payment notification of
// merchant B that names an out_trade_no of merchant A verifies. It must
// not mark A's order FAILED: the mch_id check comes before the
// pay_result path. It raises a mismatch alert and answers fail.
func TestFailedPaymentOfAnotherMerchant(t *testing.T) {
	t.Parallel()
	k := newLiteKit(t, "OTHERMCH001", mchA, model.V1, 1800)
	v := genuine(t, k.order, model.PayWeChat, agentKey, true, func(v url.Values) { v.Set("mch_id", mchB) })
	got := k.post(t, encode(v))
	if got.Reply != "fail" || got.Status != http.StatusConflict {
		t.Errorf("reply: got %d %q, want 409 fail", got.Status, got.Reply)
	}
	if diff := cmp.Diff(k.order, got.Order); diff != "" {
		t.Errorf("order changed (-before +after):\n%s", diff)
	}
	if len(got.Alerts) != 1 || got.Alerts[0].Kind != handler.AlertMchMismatch || got.Alerts[0].GotMchID != mchB {
		t.Errorf("alerts: got %+v, want one %s naming %s", got.Alerts, handler.AlertMchMismatch, mchB)
	}
}

// TestResultCodeFailIsNotPaid: a validly signed notification with state
// SUCCESS and pay_result 0 but result_code FAIL reports a failed exchange,
// not a payment: nothing is settled, the hook does not run, and the
// order stays PENDING for the reconciler.
func TestResultCodeFailIsNotPaid(t *testing.T) {
	t.Parallel()
	for i, rc := range []string{"FAIL", "1", "ERROR"} {
		t.Run(rc, func(t *testing.T) {
			t.Parallel()
			k := newLiteKit(t, "RESULTCODE"+string(rune('A'+i)), mchA, model.V2, 1800)
			got := k.post(t, encode(genuine(t, k.order, model.PayWeChat, keyA, false, func(v url.Values) { v.Set("result_code", rc) })))
			if diff := cmp.Diff(outcome{Status: http.StatusOK, Reply: "success", Order: k.order}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
