package model_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/model"
)

// nativeOrder is a valid WeChat NATIVE pre-order that each case breaks in
// one way.
func nativeOrder() model.PreOrderRequest {
	return model.PreOrderRequest{
		Channel:    model.PayWeChat,
		MchID:      "00000001",
		Body:       "超赢支付",
		OutTradeNo: "1497769914931",
		TotalFee:   4,
		TradeType:  model.TradeTypeNative,
		ProductID:  "P001",
		NotifyURL:  "https://m.example.com/pay/notify",
	}
}

// fieldErrors returns the (field, rule) pairs of a *ValidationError, or
// fails.
func fieldErrors(tb testing.TB, err error) [][2]string {
	tb.Helper()
	if err == nil {
		return nil
	}
	var ve *model.ValidationError
	if !errors.As(err, &ve) {
		tb.Fatalf("got %T (%v), want *model.ValidationError", err, err)
	}
	var out [][2]string
	for _, f := range ve.Fields {
		out = append(out, [2]string{f.Field, f.Rule})
		if !strings.HasPrefix(f.Message, f.Field+" ") {
			tb.Errorf("message %q does not start with the field %q", f.Message, f.Field)
		}
	}
	return out
}

func TestValidatePreOrder(t *testing.T) {
	t.Parallel()
	type rule = [2]string
	tests := []struct {
		name string
		edit func(r *model.PreOrderRequest)
		want []rule
	}{
		{"valid native", func(r *model.PreOrderRequest) {}, nil},

		{"out_trade_no 5 alnum", func(r *model.PreOrderRequest) { r.OutTradeNo = "Ab123" }, nil},
		{"out_trade_no 32 alnum", func(r *model.PreOrderRequest) { r.OutTradeNo = strings.Repeat("a", 32) }, nil},
		{"out_trade_no too short", func(r *model.PreOrderRequest) { r.OutTradeNo = "1234" }, []rule{{"out_trade_no", "out_trade_no"}}},
		{"out_trade_no too long", func(r *model.PreOrderRequest) { r.OutTradeNo = strings.Repeat("a", 33) }, []rule{{"out_trade_no", "out_trade_no"}}},
		{"out_trade_no underscore", func(r *model.PreOrderRequest) { r.OutTradeNo = "abc_12345" }, []rule{{"out_trade_no", "out_trade_no"}}},
		{"out_trade_no dash", func(r *model.PreOrderRequest) { r.OutTradeNo = "abc-12345" }, []rule{{"out_trade_no", "out_trade_no"}}},
		{"out_trade_no missing", func(r *model.PreOrderRequest) { r.OutTradeNo = "" }, []rule{{"out_trade_no", "required"}}},

		{"time_start valid", func(r *model.PreOrderRequest) { r.TimeStart = "20240229235959" }, nil},
		{"time_expire not a leap day", func(r *model.PreOrderRequest) { r.TimeExpire = "20230229120000" }, []rule{{"time_expire", "cytime"}}},
		{"time_start month 13", func(r *model.PreOrderRequest) { r.TimeStart = "20241301120000" }, []rule{{"time_start", "cytime"}}},
		{"time_start hour 24", func(r *model.PreOrderRequest) { r.TimeStart = "20240101240000" }, []rule{{"time_start", "cytime"}}},
		{"time_start dashed", func(r *model.PreOrderRequest) { r.TimeStart = "2024-01-01 12:00:00" }, []rule{{"time_start", "cytime"}}},
		{"time_start short", func(r *model.PreOrderRequest) { r.TimeStart = "202401011200" }, []rule{{"time_start", "cytime"}}},
		{"time_start signed", func(r *model.PreOrderRequest) { r.TimeStart = "+0240101120000" }, []rule{{"time_start", "cytime"}}},

		{"notify_url http", func(r *model.PreOrderRequest) { r.NotifyURL = "http://example.com/notify" }, nil},
		{"notify_url HTTPS with port", func(r *model.PreOrderRequest) { r.NotifyURL = "HTTPS://example.com:8443/a/b" }, nil},
		{"notify_url query", func(r *model.PreOrderRequest) { r.NotifyURL = "https://example.com/notify?id=1" }, []rule{{"notify_url", "notify_url"}}},
		{"notify_url empty query", func(r *model.PreOrderRequest) { r.NotifyURL = "https://example.com/notify?" }, []rule{{"notify_url", "notify_url"}}},
		{"notify_url fragment", func(r *model.PreOrderRequest) { r.NotifyURL = "https://example.com/notify#x" }, []rule{{"notify_url", "notify_url"}}},
		{"notify_url relative", func(r *model.PreOrderRequest) { r.NotifyURL = "/notify" }, []rule{{"notify_url", "notify_url"}}},
		{"notify_url ftp", func(r *model.PreOrderRequest) { r.NotifyURL = "ftp://example.com/notify" }, []rule{{"notify_url", "notify_url"}}},
		{"notify_url no host", func(r *model.PreOrderRequest) { r.NotifyURL = "https:///notify" }, []rule{{"notify_url", "notify_url"}}},
		{"notify_url space", func(r *model.PreOrderRequest) { r.NotifyURL = "https://example.com/no tify" }, []rule{{"notify_url", "notify_url"}}},

		{"goods_detail valid", func(r *model.PreOrderRequest) {
			r.GoodsDetail = `[{"goods_id":"CY-00_1","goods_name":"促销单品","quantity":1,"price":0},{"goods_id":"b","quantity":2,"price":100}]`
		}, nil},
		{"goods_detail not JSON", func(r *model.PreOrderRequest) { r.GoodsDetail = `goods` }, []rule{{"goods_detail", "goods_detail"}}},
		{"goods_detail object", func(r *model.PreOrderRequest) { r.GoodsDetail = `{"goods_id":"a","quantity":1,"price":1}` }, []rule{{"goods_detail", "goods_detail"}}},
		{"goods_detail null", func(r *model.PreOrderRequest) { r.GoodsDetail = `null` }, []rule{{"goods_detail", "goods_detail"}}},
		{"goods_id missing", func(r *model.PreOrderRequest) { r.GoodsDetail = `[{"quantity":1,"price":1}]` }, []rule{{"goods_detail", "goods_detail"}}},
		{"goods_id bad char", func(r *model.PreOrderRequest) { r.GoodsDetail = `[{"goods_id":"a b","quantity":1,"price":1}]` }, []rule{{"goods_detail", "goods_detail"}}},
		{"goods_id number", func(r *model.PreOrderRequest) { r.GoodsDetail = `[{"goods_id":7,"quantity":1,"price":1}]` }, []rule{{"goods_detail", "goods_detail"}}},
		{"quantity zero", func(r *model.PreOrderRequest) { r.GoodsDetail = `[{"goods_id":"a","quantity":0,"price":1}]` }, []rule{{"goods_detail", "goods_detail"}}},
		{"quantity fraction", func(r *model.PreOrderRequest) { r.GoodsDetail = `[{"goods_id":"a","quantity":1.5,"price":1}]` }, []rule{{"goods_detail", "goods_detail"}}},
		{"quantity string", func(r *model.PreOrderRequest) { r.GoodsDetail = `[{"goods_id":"a","quantity":"1","price":1}]` }, []rule{{"goods_detail", "goods_detail"}}},
		{"price negative", func(r *model.PreOrderRequest) { r.GoodsDetail = `[{"goods_id":"a","quantity":1,"price":-1}]` }, []rule{{"goods_detail", "goods_detail"}}},
		{"price missing", func(r *model.PreOrderRequest) { r.GoodsDetail = `[{"goods_id":"a","quantity":1}]` }, []rule{{"goods_detail", "goods_detail"}}},

		{"total_fee zero", func(r *model.PreOrderRequest) { r.TotalFee = 0 }, []rule{{"total_fee", "gt"}}},
		{"mch_create_ip bad", func(r *model.PreOrderRequest) { r.MchCreateIP = "1.2.3" }, []rule{{"mch_create_ip", "ip"}}},
		{"is_minipg bad", func(r *model.PreOrderRequest) { r.IsMinipg = "2" }, []rule{{"is_minipg", "oneof"}}},
		{"trade_type unknown", func(r *model.PreOrderRequest) { r.TradeType = "MICROPAY" }, []rule{{"trade_type", "oneof"}}},

		{"channel missing", func(r *model.PreOrderRequest) { r.Channel = "" }, []rule{{"channel", "required"}}},
		{"channel UNIONPAY", func(r *model.PreOrderRequest) { r.Channel = model.PayUnion }, []rule{{"channel", "oneof"}}},
		{"channel lower case", func(r *model.PreOrderRequest) { r.Channel = "wechat" }, []rule{{"channel", "oneof"}}},

		{"NATIVE without product_id", func(r *model.PreOrderRequest) { r.ProductID = "" }, []rule{{"product_id", "required_when"}}},
		{"JSPAY without product_id", func(r *model.PreOrderRequest) {
			r.TradeType, r.ProductID, r.SubAppID, r.BuyerID = model.TradeTypeJSPay, "", "wx1", "openid"
		}, nil},
		{"WECHAT JSPAY without sub_appid and buyer_id", func(r *model.PreOrderRequest) { r.TradeType = model.TradeTypeJSPay },
			[]rule{{"sub_appid", "required_when"}, {"buyer_id", "required_when"}}},
		{"WECHAT JSPAY without buyer_id", func(r *model.PreOrderRequest) { r.TradeType, r.SubAppID = model.TradeTypeJSPay, "wx1" },
			[]rule{{"buyer_id", "required_when"}}},
		{"WECHAT APP without sub_appid", func(r *model.PreOrderRequest) { r.TradeType = model.TradeTypeApp }, []rule{{"sub_appid", "required_when"}}},
		{"WECHAT APP with sub_appid", func(r *model.PreOrderRequest) { r.TradeType, r.SubAppID = model.TradeTypeApp, "wx1" }, nil},
		{"WECHAT NATIVE needs no sub_appid", func(r *model.PreOrderRequest) {}, nil},
		{"ALIPAY JSPAY without buyer", func(r *model.PreOrderRequest) { r.Channel, r.TradeType = model.PayAlipay, model.TradeTypeJSPay },
			[]rule{{"buyer_id", "required_either_when"}}},
		{"ALIPAY JSPAY with buyer_logon_id", func(r *model.PreOrderRequest) {
			r.Channel, r.TradeType, r.BuyerLogonID = model.PayAlipay, model.TradeTypeJSPay, "user@example.com"
		}, nil},
		{"ALIPAY JSPAY with buyer_id", func(r *model.PreOrderRequest) {
			r.Channel, r.TradeType, r.BuyerID = model.PayAlipay, model.TradeTypeJSPay, "2088000000000000"
		}, nil},
		{"ALIPAY APP needs no sub_appid", func(r *model.PreOrderRequest) { r.Channel, r.TradeType = model.PayAlipay, model.TradeTypeApp }, nil},
		{"ECNY with goods_tag", func(r *model.PreOrderRequest) { r.Channel, r.GoodsTag = model.PayECNY, "PROMO" }, []rule{{"goods_tag", "excluded_when"}}},
		{"WECHAT with goods_tag", func(r *model.PreOrderRequest) { r.GoodsTag = "PROMO" }, nil},
		{"ECNY without goods_tag", func(r *model.PreOrderRequest) { r.Channel = model.PayECNY }, nil},

		{"several at once", func(r *model.PreOrderRequest) { r.OutTradeNo, r.ProductID = "x", "" },
			[]rule{{"out_trade_no", "out_trade_no"}, {"product_id", "required_when"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := nativeOrder()
			tt.edit(&r)
			got := fieldErrors(t, model.Validate(r))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(field, rule) mismatch (-want +got):\n%s", diff)
			}
			// A pointer validates the same way.
			if diff := cmp.Diff(tt.want, fieldErrors(t, model.Validate(&r))); diff != "" {
				t.Errorf("via pointer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	t.Parallel()
	r := nativeOrder()
	r.OutTradeNo, r.ProductID = "x", ""
	err := model.Validate(r)
	want := "model: out_trade_no must be 5 to 32 letters or digits; product_id is required when trade_type is NATIVE"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// TestValidationErrorHidesValues puts recognisable secrets in every bad
// field and checks none reaches the message.
func TestValidationErrorHidesValues(t *testing.T) {
	t.Parallel()
	const secret = "S3CRETzz"
	r := nativeOrder()
	r.OutTradeNo = secret + "_"
	r.NotifyURL = "https://example.com/?k=" + secret
	r.TimeStart = secret
	r.MchCreateIP = secret
	r.IsMinipg = secret
	r.GoodsDetail = `[{"goods_id":"` + secret + ` ","quantity":1,"price":1}]`
	r.Channel = model.PayECNY
	r.GoodsTag = secret
	err := model.Validate(r)
	if err == nil {
		t.Fatal("got nil, want a ValidationError")
	}
	if n := len(fieldErrors(t, err)); n != 7 {
		t.Errorf("got %d field errors, want 7: %v", n, err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error reveals a value: %v", err)
	}
}

func TestValidateOtherRequests(t *testing.T) {
	t.Parallel()
	type rule = [2]string
	tests := []struct {
		name string
		v    any
		want []rule
	}{
		{"orderquery by out_trade_no", model.OrderQueryRequest{PayType: model.PayWeChat, MchID: "1", OutTradeNo: "A1"}, nil},
		{"orderquery by transaction_id", model.OrderQueryRequest{PayType: model.PayAlipay, MchID: "1", TransactionID: "T1"}, nil},
		{"orderquery neither id", model.OrderQueryRequest{PayType: model.PayWeChat, MchID: "1"}, []rule{{"out_trade_no", "required_without"}}},
		{"orderquery both ids", model.OrderQueryRequest{PayType: model.PayWeChat, MchID: "1", OutTradeNo: "A1", TransactionID: "T1"}, []rule{{"out_trade_no", "excluded_with"}}},
		{"orderquery unknown paytype", model.OrderQueryRequest{PayType: "PAYPAL", MchID: "1", OutTradeNo: "A1"}, []rule{{"paytype", "paytype"}}},
		{"orderquery lower-case paytype", model.OrderQueryRequest{PayType: "wechat", MchID: "1", OutTradeNo: "A1"}, []rule{{"paytype", "paytype"}}},

		{"cancel valid with underscore", model.CancelRequest{PayType: model.PayECNY, MchID: "1", OutTradeNo: "abc_123"}, nil},
		{"cancel bad out_trade_no", model.CancelRequest{PayType: model.PayECNY, MchID: "1", OutTradeNo: "abc-123"}, []rule{{"out_trade_no", "cancel_trade_no"}}},
		{"cancel short out_trade_no", model.CancelRequest{PayType: model.PayECNY, MchID: "1", OutTradeNo: "a_1"}, []rule{{"out_trade_no", "cancel_trade_no"}}},

		{"refund valid", model.RefundRequest{PayType: model.PayWeChat, MchID: "1", OutTradeNo: "A1", OutRefundNo: "TK-1497769914931-01", TotalFee: 10, RefundFee: 10}, nil},
		{"refund over total", model.RefundRequest{PayType: model.PayWeChat, MchID: "1", OutTradeNo: "A1", OutRefundNo: "TK-1", TotalFee: 10, RefundFee: 11}, []rule{{"refund_fee", "ltefield"}}},
		{"refund long refund no", model.RefundRequest{PayType: model.PayWeChat, MchID: "1", OutTradeNo: "A1", OutRefundNo: strings.Repeat("9", 33), TotalFee: 10, RefundFee: 1}, []rule{{"out_refund_no", "max"}}},

		{"refundquery valid", model.RefundQueryRequest{PayType: model.PayWeChat, MchID: "1", RefundID: "R1"}, nil},
		{"refundquery neither id", model.RefundQueryRequest{PayType: model.PayWeChat, MchID: "1"}, []rule{{"out_refund_no", "required_without"}}},

		{"goods item valid", model.GoodsDetail{GoodsID: "a-b_c", Quantity: 1}, nil},
		{"goods item bad id", model.GoodsDetail{GoodsID: "a/b", Quantity: 1}, []rule{{"goods_id", "goods_id"}}},
		{"goods item bad quantity and price", model.GoodsDetail{GoodsID: "a", Quantity: 0, Price: -1}, []rule{{"quantity", "gt"}, {"price", "gte"}}},

		{"notification missing sign", model.Notification{State: model.StateSuccess, ResultCode: "SUCCESS"}, []rule{{"sign", "required"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, fieldErrors(t, model.Validate(tt.v))); diff != "" {
				t.Errorf("(field, rule) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateMessagesNameWireFields(t *testing.T) {
	t.Parallel()
	err := model.Validate(model.RefundRequest{PayType: model.PayWeChat, MchID: "1", OutTradeNo: "A1", TransactionID: "T", OutRefundNo: "R", TotalFee: 1, RefundFee: 2})
	want := "model: out_trade_no and transaction_id must not both be given; refund_fee must not exceed total_fee"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestValidateNotAStruct(t *testing.T) {
	t.Parallel()
	for _, v := range []any{nil, 42, "x"} {
		err := model.Validate(v)
		var ve *model.ValidationError
		if err == nil || errors.As(err, &ve) {
			t.Errorf("Validate(%#v): got %v, want a plain error", v, err)
		}
	}
}

func TestValidNotifyURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"https://shop.example.com/pay/notify", true},
		{"http://127.0.0.1:8080/pay/notify", true},
		{"HTTPS://shop.example.com/n", true},
		{"https://shop.example.com/pay/notify?order=1", false},
		{"https://shop.example.com/pay/notify?", false},
		{"https://shop.example.com/pay/notify#x", false},
		{"/pay/notify", false},
		{"ftp://shop.example.com/n", false},
		{"https:///n", false},
		{"mailto:pay@example.com", false},
		{"", false},
	} {
		if got := model.ValidNotifyURL(tt.url); got != tt.want {
			t.Errorf("ValidNotifyURL(%q): got %v, want %v", tt.url, got, tt.want)
		}
	}
}

// TestPreOrderIssue19Fields: the pre-order fields a shop passes through
// (issue 19 §5) are each checked, and a mistake names its field.
func TestPreOrderIssue19Fields(t *testing.T) {
	base := func() *model.PreOrderRequest {
		return &model.PreOrderRequest{Channel: model.PayWeChat, MchID: "M1", Body: "goods", OutTradeNo: "ORDER0001",
			TotalFee: 4, TradeType: model.TradeTypeNative, ProductID: "P1"}
	}
	good := base()
	good.Attach, good.DeviceInfo, good.OpShopID, good.OpUserID = "note 1", "POS-7", "S001", "U9"
	good.LimitPay, good.GoodsTag, good.ProfitSharing, good.ProfitSharingReceiver = model.LimitNoCredit, "CY_PROMOTION_001", "Y", `[{"account":"x","amount":1}]`
	var err error
	if good.GoodsDetail, err = model.EncodeGoods([]model.GoodsDetail{{GoodsID: "CY000", GoodsName: "促销单品", Quantity: 2, Price: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := model.Validate(good); err != nil {
		t.Fatalf("every field set well: got %v, want nil", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(r *model.PreOrderRequest)
	}{
		{"limit_pay", func(r *model.PreOrderRequest) { r.LimitPay = "no_credit" }},
		{"goods_tag", func(r *model.PreOrderRequest) { r.Channel, r.GoodsTag = model.PayECNY, "CY_PROMOTION_001" }},
		{"goods_tag", func(r *model.PreOrderRequest) { r.GoodsTag = " padded" }},
		{"attach", func(r *model.PreOrderRequest) { r.Attach = "100%" }},
		{"device_info", func(r *model.PreOrderRequest) { r.DeviceInfo = "POS\n7" }},
		{"op_shop_id", func(r *model.PreOrderRequest) { r.OpShopID = "S001 " }},
		{"op_user_id", func(r *model.PreOrderRequest) { r.OpUserID = "%41" }},
		{"profit_sharing", func(r *model.PreOrderRequest) { r.ProfitSharing = "Y\t" }},
		{"profit_sharing_receiver", func(r *model.PreOrderRequest) { r.ProfitSharingReceiver = "50%" }},
		{"mch_create_ip", func(r *model.PreOrderRequest) { r.MchCreateIP = "10.0.0.300" }},
		{"goods_detail", func(r *model.PreOrderRequest) { r.GoodsDetail = `[{"goods_id":"A","quantity":1,"price":1.5}]` }},
		{"goods_detail", func(r *model.PreOrderRequest) {
			r.GoodsDetail = `[{"goods_id":"A","quantity":2,"price":9223372036854775807}]`
		}},
		{"goods_detail", func(r *model.PreOrderRequest) {
			r.GoodsDetail = `[{"goods_id":"A","goods_name":"5%","quantity":1,"price":1}]`
		}},
	} {
		r := base()
		tc.edit(r)
		err := model.Validate(r)
		var ve *model.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != tc.field ||
			!strings.HasPrefix(ve.Fields[0].Message, tc.field+" ") {
			t.Errorf("%s: got %v, want one error naming %s", tc.field, err, tc.field)
		}
	}
	if _, err := model.EncodeGoods([]model.GoodsDetail{{GoodsID: "bad id", Quantity: 1}}); err == nil ||
		!strings.Contains(err.Error(), "goods_detail item 1: goods_id") {
		t.Errorf("EncodeGoods(bad goods_id): got %v, want an error naming goods_detail item 1's goods_id", err)
	}
}
