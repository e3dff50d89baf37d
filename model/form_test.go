package model_test

import (
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/model"
)

func env(state model.State) model.Envelope {
	return model.Envelope{State: state, Code: model.CodeSuccess, Msg: "SUCCESS", TradeState: model.TradeSuccess, Sign: "CAB6021507B842F2AB4678029B41E9B5"}
}

// roundTrips has one fully populated value of every request, response and
// notification type, so that a field whose tag breaks shows up here.
func roundTrips() []any {
	return []any{
		&model.PreOrderRequest{
			MchID: "00000001", SubAppID: "wx1", IsMinipg: "1", BuyerID: "openid", BuyerLogonID: "u@example.com",
			DeviceInfo: "D1", Body: "超赢支付", Attach: "a&b=c", OutTradeNo: "1497769914931", TotalFee: 4,
			MchCreateIP: "127.0.0.1", TimeStart: "20240101120000", TimeExpire: "20240101121000",
			NotifyURL: "https://m.example.com/notify", OpShopID: "S1", OpUserID: "U1", LimitPay: "NO_CREDIT",
			TradeType: "NATIVE", ProductID: "P001", GoodsTag: "T", GoodsDetail: `[{"goods_id":"a","quantity":1,"price":1}]`,
			ProfitSharing: "N", ProfitSharingReceiver: "R",
		},
		&model.PreOrderResponse{
			Envelope: env(model.StateSuccess), MchID: "1", AppID: "wx", SubOpenID: "so", OutTradeNo: "A1", TokenID: "tk",
			PayInfo: `{"appId":"wx"}`, PayURL: "https://p", CodeURL: "weixin://wxpay/bizpayurl?pr=1", CodeImgURL: "https://i",
			Services: "pay.weixin.native|pay.weixin.jspay", NonceStr: "n", WxMchID: "w", WxSubMchID: "ws",
		},
		&model.OrderQueryRequest{PayType: model.PayWeChat, MchID: "1", OutTradeNo: "A1", TransactionID: "T1"},
		&model.OrderQueryResponse{
			Envelope: env(model.StateSuccess), MchID: "1", AppID: "wx", OpenID: "o", SubAppID: "sa", SubOpenID: "so",
			BuyerUserID: "2088", OutTradeNo: "A1", TransactionID: "T1", OutTransactionID: "OT1", BaseFee: 5, TotalFee: 4,
			CouponFee: 1, FeeType: "CNY", Attach: "x", TimeEnd: "20240101120000", NonceStr: "n", TradeType: "pay.weixin.native",
			PayType: model.PayWeChat, PromotionDetail: "[]", WxMchID: "w", WxSubMchID: "ws", BankType: "CFT",
		},
		&model.CancelRequest{PayType: model.PayAlipay, MchID: "1", OutTradeNo: "A_1", OpUserID: "U"},
		&model.CancelResponse{Envelope: env(model.StateSuccess), MchID: "1", OutTradeNo: "A_1", PayType: model.PayAlipay, NonceStr: "n", WxMchID: "w", WxSubMchID: "ws"},
		&model.RefundRequest{PayType: model.PayWeChat, MchID: "1", OutTradeNo: "A1", TransactionID: "T1", OutRefundNo: "TK-1", TotalFee: 10, RefundFee: 3, OpUserID: "U"},
		&model.RefundResponse{
			Envelope: env(model.StateSuccess), MchID: "1", OutTradeNo: "A1", TransactionID: "T1", OutTransactionID: "OT",
			OutRefundNo: "TK-1", RefundID: "R1", RefundChannel: "ORIGINAL", BaseFee: 10, TotalFee: 10, BaseRefundFee: 3,
			RefundFee: 3, CouponRefundFee: 0, PayType: model.PayWeChat, NonceStr: "n",
		},
		&model.RefundQueryRequest{PayType: model.PayWeChat, MchID: "1", OutRefundNo: "TK-1", RefundID: "R1"},
		&model.RefundQueryResponse{
			Envelope: env(model.StateSuccess), MchID: "1", OutTradeNo: "A1", TransactionID: "T1", OutTransactionID: "OT",
			RefundCount: 2, BaseRefundFeeSummary: 5, RefundFeeSummary: 5, RefundList: `[{"refund_fee":"3"}]`,
			PayType: model.PayWeChat, NonceStr: "n", WxMchID: "w", WxSubMchID: "ws",
		},
		&model.Notification{
			State: model.StateSuccess, ResultCode: "SUCCESS", Sign: "S", MchID: "1", DeviceInfo: "D", PayResult: "0",
			OutTradeNo: "A1", OutTransactionID: "OT", TransactionID: "T", FeeType: "CNY", TotalFee: 4, CouponFee: 1,
			TimeEnd: "20240101120000", BankType: "CFT", TradeType: "pay.weixin.native", NonceStr: "n", SubAppID: "sa",
			SubOpenID: "so", PromotionDetail: "[]", WxMchID: "w", WxSubMchID: "ws", InvoiceAmount: "1", BuyerUserID: "2088",
			BuyerLogonID: "u@example.com", FundBillList: `[{"amount":"0.01"}]`, GmtCreate: "20240101115959",
		},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, in := range roundTrips() {
		name := reflect.TypeOf(in).Elem().Name()
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			assertAllSet(t, reflect.ValueOf(in).Elem(), name)
			values, err := model.Encode(in)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			// Through the wire and back, as a receiver would see it.
			values, err = url.ParseQuery(values.Encode())
			if err != nil {
				t.Fatal(err)
			}
			out := reflect.New(reflect.TypeOf(in).Elem()).Interface()
			if err := model.Decode(out, values); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(in, out); diff != "" {
				t.Errorf("round trip (-in +out):\n%s", diff)
			}
		})
	}
}

// assertAllSet fails on a zero field that travels on the wire, so that a
// new field cannot slip out of the round trip unnoticed.
func assertAllSet(tb testing.TB, v reflect.Value, path string) {
	tb.Helper()
	for i := 0; i < v.NumField(); i++ {
		f, sf := v.Field(i), v.Type().Field(i)
		if sf.Anonymous {
			assertAllSet(tb, f, path+"."+sf.Name)
			continue
		}
		if strings.HasPrefix(sf.Tag.Get("schema"), "-") {
			continue
		}
		// Zero amounts cannot round-trip through omitempty; those that may
		// legitimately be zero are listed.
		if f.IsZero() && sf.Name != "CouponRefundFee" {
			tb.Errorf("%s.%s is zero in the round-trip fixture", path, sf.Name)
		}
	}
}

func TestEncodeLeavesOutZeroOptionals(t *testing.T) {
	t.Parallel()
	values, err := model.Encode(&model.OrderQueryRequest{PayType: model.PayWeChat, MchID: "1", OutTradeNo: "A1"})
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"paytype": {"WECHAT"}, "mch_id": {"1"}, "out_trade_no": {"A1"}}
	if diff := cmp.Diff(want, values); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
	// Channel is not sent: it selects the endpoint.
	values, err = model.Encode(&model.PreOrderRequest{Channel: model.PayWeChat, Body: "b"})
	if err != nil {
		t.Fatal(err)
	}
	for k := range values {
		if strings.EqualFold(k, "channel") {
			t.Errorf("Encode sent %q", k)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values url.Values
		want   string // substring of the error
	}{
		{"duplicate name", url.Values{"total_fee": {"4", "5"}}, `"total_fee" given 2 times`},
		{"duplicate unknown name", url.Values{"extra": {"val1", "val2"}}, `"extra" given 2 times`},
		{"non-integer total_fee", url.Values{"total_fee": {"4.00"}}, "invalid value for total_fee"},
		{"text total_fee", url.Values{"total_fee": {"four"}}, "invalid value for total_fee"},
		{"overflowing total_fee", url.Values{"total_fee": {"99999999999999999999"}}, "invalid value for total_fee"},
		{"two bad fields sorted", url.Values{"total_fee": {"x"}, "coupon_fee": {"y"}}, "invalid value for coupon_fee, total_fee"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n model.Notification
			err := model.Decode(&n, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			for _, vs := range tt.values {
				for _, v := range vs {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error %q echoes the value %q", err, v)
					}
				}
			}
		})
	}
	if err := model.Decode(model.Notification{}, url.Values{}); err == nil {
		t.Error("Decode into a non-pointer: got nil, want an error")
	}
}

// TestPlainSchemaErrorSorted repeats a many-field failure: map order would
// make an unsorted list differ between runs.
func TestPlainSchemaErrorSorted(t *testing.T) {
	t.Parallel()
	values := url.Values{"total_fee": {"x"}, "coupon_refund_fee": {"x"}, "base_fee": {"x"}, "refund_fee": {"x"}}
	want := "model: decode *model.RefundResponse: invalid value for base_fee, coupon_refund_fee, refund_fee, total_fee"
	for i := 0; i < 20; i++ {
		var r model.RefundResponse
		if err := model.Decode(&r, values); err == nil || err.Error() != want {
			t.Fatalf("got %v, want %s", err, want)
		}
	}
}

// TestDecodeNameCase shows that names match in any letter case, as the
// gateway reads them, and that two spellings of one name are refused
// rather than left to race for the field.
func TestDecodeNameCase(t *testing.T) {
	t.Parallel()
	for i := 0; i < 20; i++ {
		var n model.Notification
		err := model.Decode(&n, url.Values{"total_fee": {"4"}, "TOTAL_FEE": {"5"}})
		if err == nil || !strings.Contains(err.Error(), `"total_fee" given twice in different letter case`) {
			t.Fatalf("total_fee and TOTAL_FEE: got %v, want a duplicate error", err)
		}
	}
	var n model.Notification
	if err := model.Decode(&n, url.Values{"Total_Fee": {"5"}, "ban\u212A_type": {"CFT"}}); err != nil {
		t.Fatal(err)
	}
	if n.TotalFee != 5 || n.BankType != "CFT" {
		t.Errorf("got total_fee %d, bank_type %q; want 5, CFT", n.TotalFee, n.BankType)
	}
}

func readForm(tb testing.TB, name string) url.Values {
	tb.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := url.ParseQuery(strings.TrimSpace(string(raw)))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestDecodeNotificationSeedExamples(t *testing.T) {
	t.Parallel()
	t.Run("wechat", func(t *testing.T) {
		t.Parallel()
		n, err := model.DecodeNotification(readForm(t, "notify-wechat.form"))
		if err != nil {
			t.Fatal(err)
		}
		want := &model.Notification{
			State: model.StateSuccess, ResultCode: "SUCCESS", Sign: "00000000000000000000000000000000",
			MchID: "f20170519135901860000", PayResult: "0", OutTradeNo: "1523929500000",
			OutTransactionID: "2018041721001004870537670226", TransactionID: "199520439266201804177199552446",
			TotalFee: 1, TimeEnd: "20180417094729", BankType: "CFT", TradeType: "pay.weixin.native", NonceStr: "1523929649387",
		}
		if diff := cmp.Diff(want, n); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if !n.Paid() {
			t.Error("Paid: got false, want true")
		}
	})
	t.Run("alipay", func(t *testing.T) {
		t.Parallel()
		values := readForm(t, "notify-alipay.form")
		values.Set("ext_field", "x y")
		n, err := model.DecodeNotification(values)
		if err != nil {
			t.Fatal(err)
		}
		want := &model.Notification{
			State: model.StateSuccess, ResultCode: "SUCCESS", Sign: "00000000000000000000000000000000",
			MchID: "f20170519135901860000", DeviceInfo: "device_info_yzq_01", PayResult: "0", OutTradeNo: "1523929500000",
			OutTransactionID: "2018041721001004870537670226", TransactionID: "199520439266201804177199552446",
			FeeType: "CNY", TotalFee: 1, TimeEnd: "20180417094729", BankType: "ALIPAYACCOUNT",
			TradeType: "pay.alipay.native", NonceStr: "1523929649387", InvoiceAmount: "1",
			BuyerUserID: "2088822494428000", BuyerLogonID: "13800000000@qq.com",
			FundBillList: `[{"amount":"0.01","fundChannel":"ALIPAYACCOUNT"}]`, GmtCreate: "20180417094613",
			Extra: url.Values{"ext_field": {"x y"}},
		}
		if diff := cmp.Diff(want, n); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestDecodeNotificationExtra(t *testing.T) {
	t.Parallel()
	n, err := model.DecodeNotification(url.Values{"state": {"SUCCESS"}, "TOTAL_FEE": {"9"}, "a.b": {"1"}, "": {"e"}, "Extra": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"a.b": {"1"}, "": {"e"}, "Extra": {"x"}}
	if diff := cmp.Diff(want, n.Extra); diff != "" {
		t.Errorf("Extra (-want +got):\n%s", diff)
	}
	if n.TotalFee != 9 {
		t.Errorf("TotalFee: got %d from TOTAL_FEE, want 9", n.TotalFee)
	}
	if _, err := model.DecodeNotification(url.Values{"sign": {"A", "B"}}); err == nil {
		t.Error("duplicate sign: got nil, want an error")
	}
	if _, err := model.DecodeNotification(url.Values{"sign": {"A"}, "SIGN": {"B"}}); err == nil {
		t.Error("sign and SIGN: got nil, want an error")
	}
}

func TestNotificationPaid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state      model.State
		resultCode string
		payResult  string
		want       bool
	}{
		{model.StateSuccess, "SUCCESS", "0", true},
		{model.StateSuccess, "0", "0", true},
		{model.StateSuccess, "SUCCESS", "1", false},
		{model.StateSuccess, "SUCCESS", "", false},
		{model.StateSuccess, "FAIL", "0", false},
		{model.StateFail, "SUCCESS", "0", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		n := model.Notification{State: tt.state, ResultCode: tt.resultCode, PayResult: tt.payResult}
		if got := n.Paid(); got != tt.want {
			t.Errorf("Paid(%s, %s, %s): got %v, want %v", tt.state, tt.resultCode, tt.payResult, got, tt.want)
		}
	}
}
