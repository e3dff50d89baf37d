package gatewaytest

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
)

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const gw = "/v2/UnifiedPay/Gateway"

func query(t testing.TB, s *Server, out string) *model.OrderQueryResponse {
	t.Helper()
	r := call(t, s.URL, gw, v2("orderquery", "mch_id", mch1, "paytype", "WECHAT", "out_trade_no", out), key1)
	b, _ := json.Marshal(r)
	var q model.OrderQueryResponse
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatalf("reply %s does not decode as OrderQueryResponse: %v", b, err)
	}
	if q.State == model.StateSuccess && !isSigned(r, key1) {
		t.Errorf("successful query reply is not signed: %v", r)
	}
	return &q
}

func cancel(t testing.TB, s *Server, out string) map[string]string {
	t.Helper()
	return call(t, s.URL, gw, v2("cancel", "mch_id", mch1, "paytype", "WECHAT", "out_trade_no", out, "op_user_id", mch1), key1)
}

func TestOrderQueryOutcomes(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	for _, out := range []string{"OQ00001", "OQ00002", "OQ00003", "OQ00004", "OQ00005", "OQ00006", "OQ00007", "OQ00008"} {
		mustPreOrder(t, s, out, "")
	}
	mustOK := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustOK(s.Pay("OQ00002"))
	mustOK(s.FailPayment("OQ00003"))
	cancel(t, s, "OQ00004")
	mustOK(s.Pay("OQ00005"))
	cancel(t, s, "OQ00005")
	mustOK(s.Pay("OQ00006"))
	doRefund(t, s, "OQ00006", "TK-OQ00006-01", 100, 40)
	mustOK(s.BeginPayment("OQ00007"))
	mustOK(s.BeginPayment("OQ00008"))
	mustOK(s.Pay("OQ00008"))

	tests := []struct {
		out     string
		code    model.Code
		outcome model.Outcome
	}{
		{"OQ00001", model.CodeNotPaid, model.OutcomePending},
		{"OQ00002", model.CodeSuccess, model.OutcomePaid},
		{"OQ00003", model.CodePayError, model.OutcomeClosed},
		{"OQ00004", model.CodeClosed, model.OutcomeClosed},
		{"OQ00005", model.CodeCancelled, model.OutcomeClosed},
		{"OQ00006", model.CodeRefunded, model.OutcomeRefunded},
		{"OQ00007", model.CodePaying, model.OutcomePending},
		{"OQ00008", model.CodeSuccess, model.OutcomePaid},
	}
	for _, tt := range tests {
		t.Run(tt.out, func(t *testing.T) {
			q := query(t, s, tt.out)
			if q.Code != tt.code || q.Outcome() != tt.outcome {
				t.Errorf("got code %s outcome %s, want %s %s", q.Code, q.Outcome(), tt.code, tt.outcome)
			}
		})
	}
	t.Run("paid fields", func(t *testing.T) {
		q := query(t, s, "OQ00002")
		o, _ := s.Order("OQ00002")
		if q.TransactionID != o.TransactionID || q.TotalFee != 100 || q.BaseFee != 100 || q.PayType != model.PayWeChat ||
			q.TradeType != "pay.weixin.native" || q.OutTransactionID == "" || q.MchID != mch1 {
			t.Errorf("got %+v, want the payment's fields", q)
		}
		if _, err := model.ParseTime(q.TimeEnd); err != nil {
			t.Errorf("time_end: %v", err)
		}
	})
	t.Run("by transaction_id", func(t *testing.T) {
		o, _ := s.Order("OQ00002")
		r := call(t, s.URL, gw, v2("orderquery", "mch_id", mch1, "paytype", "WECHAT", "transaction_id", o.TransactionID), key1)
		if r["out_trade_no"] != "OQ00002" {
			t.Errorf("got %v, want OQ00002", r)
		}
	})
	t.Run("other merchant", func(t *testing.T) {
		r := call(t, s.URL, gw, v2("orderquery", "mch_id", mch2, "paytype", "WECHAT", "out_trade_no", "OQ00002"), key2)
		expectFail(t, r, "20007")
	})
	t.Run("pay twice", func(t *testing.T) {
		if err := s.Pay("OQ00002"); !errors.Is(err, ErrNotUnpaid) {
			t.Errorf("got %v, want ErrNotUnpaid", err)
		}
		if err := s.BeginPayment("OQ00002"); !errors.Is(err, ErrNotUnpaid) {
			t.Errorf("begin a paid order: got %v, want ErrNotUnpaid", err)
		}
		if err := s.Pay("NOSUCH01"); !errors.Is(err, ErrUnknownOrder) {
			t.Errorf("got %v, want ErrUnknownOrder", err)
		}
	})
}

func TestCancelWindow(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, model.Beijing)}
	cfg := fastConfig()
	cfg.Now = clock.Now
	s := RunT(t, cfg)
	for _, out := range []string{"CW00001", "CW00002", "CW00003", "CW00004"} {
		mustPreOrder(t, s, out, "")
	}
	if err := s.Pay("CW00002"); err != nil {
		t.Fatal(err)
	}
	clock.Add(CancelWindow)

	r := cancel(t, s, "CW00001")
	if r["state"] != "SUCCESS" || r["code"] != "10000" || !isSigned(r, key1) {
		t.Fatalf("cancel unpaid at the window's edge: got %v, want signed success", r)
	}
	if o, _ := s.Order("CW00001"); o.State != Closed {
		t.Errorf("got state %s, want CLOSED", o.State)
	}
	r = cancel(t, s, "CW00002")
	if r["code"] != "10000" {
		t.Fatalf("cancel paid within window: got %v", r)
	}
	if o, _ := s.Order("CW00002"); o.State != Cancelled {
		t.Errorf("got state %s, want CANCELLED", o.State)
	}
	if r := cancel(t, s, "CW00001"); r["code"] != "10000" {
		t.Errorf("repeated cancel: got %v, want success", r)
	}

	clock.Add(time.Second)
	expectFail(t, cancel(t, s, "CW00003"), "20011")
	if o, _ := s.Order("CW00003"); o.State != Unpaid {
		t.Errorf("late cancel changed the order to %s", o.State)
	}
	expectFail(t, cancel(t, s, "NOSUCH001"), "20007")
	if err := s.Pay("CW00001"); !errors.Is(err, ErrNotUnpaid) {
		t.Errorf("pay a closed order: got %v, want ErrNotUnpaid", err)
	}
}

func doRefund(t testing.TB, s *Server, out, outRefundNo string, total, fee int64) map[string]string {
	t.Helper()
	return call(t, s.URL, gw, v2("refund", "mch_id", mch1, "paytype", "WECHAT", "out_trade_no", out,
		"out_refund_no", outRefundNo, "total_fee", itoa(total), "refund_fee", itoa(fee), "op_user_id", mch1), key1)
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestRefund(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	mustPreOrder(t, s, "RF00001", "")
	mustPreOrder(t, s, "RF00002", "")
	if err := s.Pay("RF00001"); err != nil {
		t.Fatal(err)
	}

	r := doRefund(t, s, "RF00001", "TK-RF00001-01", 100, 60)
	if r["code"] != "10000" || r["refund_fee"] != "60" || r["out_refund_no"] != "TK-RF00001-01" || r["refund_id"] == "" || !isSigned(r, key1) {
		t.Fatalf("first refund: got %v", r)
	}
	first := r["refund_id"]
	if r := doRefund(t, s, "RF00001", "TK-RF00001-01", 100, 60); r["refund_id"] != first {
		t.Errorf("repeated out_refund_no: got refund_id %q, want the first %q", r["refund_id"], first)
	}
	if o, _ := s.Order("RF00001"); o.Refunded != 60 || o.State != Refunded {
		t.Errorf("after an idempotent repeat: got refunded %d state %s, want 60 REFUNDED", o.Refunded, o.State)
	}

	fails := []struct {
		name, out, no string
		total, fee    int64
	}{
		{"over the paid amount", "RF00001", "TK-RF00001-02", 100, 41},
		{"out_refund_no reused with another amount", "RF00001", "TK-RF00001-01", 100, 10},
		{"total_fee is not the order's", "RF00001", "TK-RF00001-03", 99, 1},
		{"unpaid order", "RF00002", "TK-RF00002-01", 100, 1},
	}
	for _, tt := range fails {
		t.Run(tt.name, func(t *testing.T) {
			expectFail(t, doRefund(t, s, tt.out, tt.no, tt.total, tt.fee), "20008")
		})
	}
	expectFail(t, doRefund(t, s, "NOSUCH001", "TK-X", 100, 1), "20007")

	if r := doRefund(t, s, "RF00001", "TK-RF00001-04", 100, 40); r["code"] != "10000" {
		t.Fatalf("refund the rest: got %v", r)
	}
	if o, _ := s.Order("RF00001"); o.Refunded != 100 {
		t.Errorf("got refunded %d, want 100", o.Refunded)
	}

	t.Run("refundquery", func(t *testing.T) {
		r := call(t, s.URL, gw, v2("refundquery", "mch_id", mch1, "paytype", "WECHAT", "out_refund_no", "TK-RF00001-01"), key1)
		if r["code"] != "10000" || r["refund_count"] != "1" || r["refund_fee_summary"] != "60" || !isSigned(r, key1) {
			t.Fatalf("got %v", r)
		}
		var items []model.RefundItem
		if err := json.Unmarshal([]byte(r["refund_list"]), &items); err != nil {
			t.Fatalf("refund_list %q is not a JSON array: %v", r["refund_list"], err)
		}
		if len(items) != 1 || items[0].RefundID != first || items[0].RefundFee != 60 || items[0].RefundStatus != model.RefundSuccess {
			t.Errorf("got refund_list %+v", items)
		}
		if _, err := model.ParseTime(items[0].RefundTime); err != nil {
			t.Errorf("refund_time: %v", err)
		}
		r = call(t, s.URL, gw, v2("refundquery", "mch_id", mch1, "paytype", "WECHAT", "refund_id", first), key1)
		if r["out_trade_no"] != "RF00001" {
			t.Errorf("by refund_id: got %v", r)
		}
		expectFail(t, call(t, s.URL, gw, v2("refundquery", "mch_id", mch1, "paytype", "WECHAT", "out_refund_no", "TK-NONE"), key1), "20010")
	})
}
