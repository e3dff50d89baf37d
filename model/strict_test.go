package model_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/cypaykit/kit/model"
)

func TestParseNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1800", 1800, true},
		{"999999999999999999", 999999999999999999, true},
		{"", 0, false},
		{"+1800", 0, false},
		{"-1800", 0, false},
		{"01800", 0, false},
		{"00", 0, false},
		{" 1800", 0, false},
		{"1800 ", 0, false},
		{"18\u30000", 0, false},
		{"1e3", 0, false},
		{"１８００", 0, false}, // full-width digits
		{"1000000000000000000", 0, false},
	}
	for _, tc := range tests {
		got, ok := model.ParseNumber(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseNumber(%q): got %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestValidToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"SUCCESS", true},
		{"4200001234", true},
		{"pay.weixin.native", true},
		{"商户A", true},
		{"", false},
		{" ", false},
		{"A B", false},
		{"A\tB", false},
		{"A\u3000", false},
		{"\u00a0A", false},
		{"A\u200bB", false},
		{"A&B", false},
		{"A=B", false},
		{"A\x00", false},
		{"A\x7f", false},
		{"A\u0085", false},
		{"\xff", false},
	} {
		if got := model.ValidToken(tc.in); got != tc.want {
			t.Errorf("ValidToken(%q): got %v, want %v", tc.in, got, tc.want)
		}
	}
}

func paidNotification() url.Values {
	return url.Values{
		"state": {"SUCCESS"}, "result_code": {"SUCCESS"}, "pay_result": {"0"}, "mch_id": {"M1"},
		"out_trade_no": {"O1"}, "transaction_id": {"T1"}, "out_transaction_id": {"C1"},
		"total_fee": {"1800"}, "time_end": {"20260501120000"}, "attach": {"a=b&c=d"},
		"bank_type": {"CFT"}, "sign": {"X"},
	}
}

func TestCheckNotification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(v url.Values)
		ok   bool
	}{
		{"paid", nil, true},
		{"failed payment without business fields", func(v url.Values) {
			v.Set("pay_result", "1")
			v.Del("total_fee")
			v.Del("transaction_id")
			v.Del("time_end")
		}, true},
		{"failed exchange with only the envelope", func(v url.Values) {
			for k := range v {
				if k != "state" && k != "result_code" && k != "out_trade_no" {
					v.Del(k)
				}
			}
			v.Set("state", "FAIL")
		}, true},
		{"no state", func(v url.Values) { v.Del("state") }, false},
		{"no out_trade_no", func(v url.Values) { v.Del("out_trade_no") }, false},
		{"no mch_id", func(v url.Values) { v.Del("mch_id") }, false},
		{"no pay_result", func(v url.Values) { v.Del("pay_result") }, false},
		{"paid without total_fee", func(v url.Values) { v.Del("total_fee") }, false},
		{"paid without transaction_id", func(v url.Values) { v.Del("transaction_id") }, false},
		{"paid without time_end", func(v url.Values) { v.Del("time_end") }, false},
		{"blank pay_result", func(v url.Values) { v.Set("pay_result", " ") }, false},
		{"empty transaction_id", func(v url.Values) { v.Set("transaction_id", "") }, false},
		{"U+3000 transaction_id", func(v url.Values) { v.Set("transaction_id", "\u3000") }, false},
		{"out_transaction_id holding a run", func(v url.Values) { v.Set("out_transaction_id", "C1&pay_result=0") }, false},
		{"total_fee +1800", func(v url.Values) { v.Set("total_fee", "+1800") }, false},
		{"total_fee 01800", func(v url.Values) { v.Set("total_fee", "01800") }, false},
		{"time_end dashed", func(v url.Values) { v.Set("time_end", "2026-05-01 12:00:00") }, false},
		{"time_end not a date", func(v url.Values) { v.Set("time_end", "20261301120000") }, false},
		{"PAY_RESULT blank beside pay_result", func(v url.Values) { v.Set("PAY_RESULT", "") }, false},
		{"Mch_Id instead of mch_id", func(v url.Values) { v.Set("Mch_Id", v.Get("mch_id")); v.Del("mch_id") }, false},
		{"pay_result twice", func(v url.Values) { v["pay_result"] = []string{"0", "0"} }, false},
		{"a name holding a run", func(v url.Values) { v.Set("bank_type=CFT&fee_type", "CNY") }, false},
		{"a name holding '='", func(v url.Values) { v.Set("fee_type=C", "NY") }, false},
		{"Mch_Id beside mch_id", func(v url.Values) { v.Set("Mch_Id", "M2") }, false},
		{"a value hiding a decided field", func(v url.Values) { v.Set("attach", "x&Time_End=20260501120000") }, false},
		{"a value holding an undecided run", func(v url.Values) { v.Set("attach", "x&fee_type=CNY") }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := paidNotification()
			if tc.edit != nil {
				tc.edit(v)
			}
			err := model.CheckNotification(v)
			if tc.ok && err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, model.ErrDecidedField) {
				t.Fatalf("got %v, want ErrDecidedField", err)
			}
		})
	}
}

func TestCheckReply(t *testing.T) {
	t.Parallel()
	ok := url.Values{"state": {"SUCCESS"}, "code": {"10000"}, "trade_state": {"SUCCESS"}, "total_fee": {"1"}, "time_end": {"20260501120000"}, "msg": {"a b"}}
	if err := model.CheckReply(ok); err != nil {
		t.Fatalf("good reply: %v", err)
	}
	for name, v := range map[string]url.Values{
		"no state":         {"code": {"10000"}},
		"blank code":       {"state": {"SUCCESS"}, "code": {" "}},
		"refund_fee +1":    {"state": {"SUCCESS"}, "refund_fee": {"+1"}},
		"refund_id spaced": {"state": {"SUCCESS"}, "refund_id": {"R 1"}},
	} {
		if err := model.CheckReply(v); !errors.Is(err, model.ErrDecidedField) {
			t.Errorf("%s: got %v, want ErrDecidedField", name, err)
		}
	}
}

func TestCheckFieldsNamesNoValue(t *testing.T) {
	t.Parallel()
	const secret = "4200001234567"
	err := model.CheckFields(url.Values{"transaction_id": {secret + " "}}, model.NotifyFields())
	if err == nil {
		t.Fatal("got nil, want an error")
	}
	if s := err.Error(); s != "model: decided field: transaction_id is not a token" {
		t.Errorf("error text %q: want the field named, not its value", s)
	}
}

// TestCheckFacts: payment facts are kept only when each is given once, in
// lower case and of its shape, and none could be another field's cut; a
// blank one is absent.
func TestCheckFacts(t *testing.T) {
	ok := url.Values{"coupon_fee": {"30"}, "fee_type": {"CNY"}, "bank_type": {"CFT"}, "sub_appid": {"wx1"},
		"wx_mch_id": {"19"}, "wx_sub_mch_id": {"20"}, "attach": {"a b&c"}, "total_fee": {"100"}}
	if err := model.CheckFacts(ok); err != nil {
		t.Errorf("well-formed facts: got %v, want nil", err)
	}
	if err := model.CheckFacts(url.Values{"coupon_fee": {""}, "bank_type": {""}}); err != nil {
		t.Errorf("blank facts: got %v, want nil (absent)", err)
	}
	for name, v := range map[string]url.Values{
		"negative coupon":   {"coupon_fee": {"-1"}},
		"padded coupon":     {"coupon_fee": {" 30"}},
		"space in bank":     {"bank_type": {"CFT X"}},
		"given twice":       {"fee_type": {"CNY", "USD"}},
		"upper-case name":   {"Coupon_Fee": {"30"}},
		"hidden in another": {"device_info": {"POS&coupon_fee=30"}},
		"hidden any case":   {"attach": {"x&WX_SUB_MCH_ID=9"}},
	} {
		if err := model.CheckFacts(v); !errors.Is(err, model.ErrDecidedField) {
			t.Errorf("%s: got %v, want ErrDecidedField", name, err)
		}
	}
}
