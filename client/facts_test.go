package client_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/cypaykit/kit/model"
)

// TestOrderQueryFacts: a signed paid query reply's payment facts
// (coupon_fee, fee_type, bank_type …) are kept when they pass
// model.CheckFacts; when one fails, all of them are dropped, the reply
// still counts, and FactsDropped says their absence is not a zero.
func TestOrderQueryFacts(t *testing.T) {
	t.Parallel()
	paid := func(facts map[string]string) func(r received) (int, string) {
		return func(r received) (int, string) {
			fields := map[string]string{
				"state": "SUCCESS", "code": "10000", "msg": "SUCCESS", "trade_state": "SUCCESS",
				"mch_id": mchID, "out_trade_no": "ORDER00001", "transaction_id": "T100",
				"total_fee": "80", "base_fee": "100", "time_end": "20260101120000", "nonce_str": "n1",
			}
			for k, v := range facts {
				fields[k] = v
			}
			return http.StatusOK, signedJSON(t, merchantKey, fields)
		}
	}
	for _, tc := range []struct {
		name                string
		facts               map[string]string
		wantCoupon          int64
		wantFeeType, wantBT string
		wantDropped         bool
	}{
		{"well formed", map[string]string{"coupon_fee": "20", "fee_type": "CNY", "bank_type": "CMB_CREDIT"}, 20, "CNY", "CMB_CREDIT", false},
		{"one malformed", map[string]string{"coupon_fee": "2.0", "fee_type": "CNY", "bank_type": "CMB_CREDIT"}, 0, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw := newFake(t, paid(tc.facts))
			c := newClient(t, model.V2, gw.srv.URL)
			resp, err := c.OrderQuery(context.Background(), queryReq())
			if err != nil {
				t.Fatalf("OrderQuery: %v", err)
			}
			if resp.Outcome() != model.OutcomePaid || resp.BaseFee != 100 {
				t.Errorf("Outcome %v, base_fee %d: want paid, 100", resp.Outcome(), resp.BaseFee)
			}
			if resp.CouponFee != tc.wantCoupon || resp.FeeType != tc.wantFeeType || resp.BankType != tc.wantBT || resp.FactsDropped != tc.wantDropped {
				t.Errorf("facts: coupon_fee %d, fee_type %q, bank_type %q, dropped %v; want %d, %q, %q, %v",
					resp.CouponFee, resp.FeeType, resp.BankType, resp.FactsDropped, tc.wantCoupon, tc.wantFeeType, tc.wantBT, tc.wantDropped)
			}
		})
	}
}
