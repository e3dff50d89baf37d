package model_test

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/cypaykit/kit/model"
)

// Encode turns a request into the form values the client signs and posts.
func ExampleEncode() {
	values, err := model.Encode(&model.OrderQueryRequest{
		PayType:    model.PayWeChat,
		MchID:      "00000001",
		OutTradeNo: "1497769914931",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(values.Encode())
	// Output: mch_id=00000001&out_trade_no=1497769914931&paytype=WECHAT
}

// DecodeNotification reads a notification after its signature has been
// verified over the same values; fields the type does not name, such as
// the Alipay example's extension fields, are kept in Extra.
func ExampleDecodeNotification() {
	body := "state=SUCCESS&result_code=SUCCESS&pay_result=0&mch_id=00000001" +
		"&out_trade_no=1497769914931&total_fee=4&time_end=20180417094729" +
		"&gmt_create=20180417094613&new_field=x&sign=CAB6021507B842F2AB4678029B41E9B5"
	values, err := url.ParseQuery(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := model.DecodeNotification(values)
	if err != nil {
		fmt.Println(err)
		return
	}
	paidAt, _ := model.ParseTime(n.TimeEnd)
	fmt.Println(n.OutTradeNo, n.TotalFee, n.Paid(), paidAt.UTC())
	fmt.Println(n.GmtCreate, n.Extra)
	// Output:
	// 1497769914931 4 true 2018-04-17 01:47:29 +0000 UTC
	// 20180417094613 map[new_field:[x]]
}

// Validate checks a request before it is sent and lists every problem by
// its wire name.
func ExampleValidate() {
	err := model.Validate(model.PreOrderRequest{
		Channel:    model.PayWeChat,
		MchID:      "00000001",
		Body:       "超赢支付",
		OutTradeNo: "A-1",
		TotalFee:   4,
		TradeType:  model.TradeTypeNative,
	})
	fmt.Println(err)

	var ve *model.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fmt.Println(f.Field, f.Rule)
		}
	}
	// Output:
	// model: out_trade_no must be 5 to 32 letters or digits; product_id is required when trade_type is NATIVE
	// out_trade_no out_trade_no
	// product_id required_when
}
