package gatewaytest

import (
	"errors"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
)

// TestTimeExpire: an order pre-ordered with time_start and time_expire
// stays payable until time_expire by the simulator's clock, then is CLOSED
// (Pay refuses it, orderquery says 10004); time_expire sent alone does
// nothing, as the gateway documents for Alipay.
func TestTimeExpire(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, model.Beijing)}
	cfg := fastConfig()
	cfg.Now = clk.Now
	s := RunT(t, cfg)
	start, expire := model.FormatTime(clk.Now()), model.FormatTime(clk.Now().Add(2*time.Hour))
	preOrder := func(out string, kv ...string) {
		t.Helper()
		r := call(t, s.URL, gw, v2("PreOrder_WECHAT", append(preOrderParams(mch1, out, ""), kv...)...), key1)
		if r["state"] != "SUCCESS" || r["code"] != "10000" {
			t.Fatalf("pre-order %s: got %v, want SUCCESS/10000", out, r)
		}
	}
	preOrder("EXP0001", "time_start", start, "time_expire", expire)
	preOrder("EXP0002", "time_start", start, "time_expire", expire)
	preOrder("EXP0003", "time_expire", expire) // alone: no effect
	if o, _ := s.Order("EXP0001"); o.TimeStart != start || o.TimeExpire != expire {
		t.Errorf("Order(EXP0001) times: got %q, %q, want %q, %q", o.TimeStart, o.TimeExpire, start, expire)
	}

	clk.Add(2*time.Hour - time.Second)
	if err := s.Pay("EXP0001"); err != nil {
		t.Fatalf("Pay a second before time_expire: %v", err)
	}
	clk.Add(time.Second)
	if err := s.Pay("EXP0002"); !errors.Is(err, ErrNotUnpaid) {
		t.Errorf("Pay at time_expire: got %v, want ErrNotUnpaid", err)
	}
	for _, tc := range []struct {
		out  string
		code model.Code
	}{{"EXP0001", model.CodeSuccess}, {"EXP0002", model.CodeClosed}, {"EXP0003", model.CodeNotPaid}} {
		if q := query(t, s, tc.out); q.Code != tc.code {
			t.Errorf("query %s after time_expire: got code %s, want %s", tc.out, q.Code, tc.code)
		}
	}
	if err := s.Pay("EXP0003"); err != nil {
		t.Errorf("Pay an order with time_expire alone, after it: %v", err)
	}
}
