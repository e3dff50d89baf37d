package sign_test

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/cypaykit/kit/sign"
)

// A pre-order request is signed with the merchant key (v2) before it is
// posted; empty values such as nonce_str are left out of the signature.
func ExampleSign() {
	params := url.Values{
		"method":       {"PreOrder_WECHAT"},
		"pid":          {"yunpos"},
		"version":      {"1.0"},
		"mch_id":       {"00000001"},
		"trade_type":   {"NATIVE"},
		"body":         {"超赢支付"},
		"out_trade_no": {"1497769914931"},
		"total_fee":    {"4"},
		"product_id":   {"P001"},
		"notify_url":   {"http://example.com/notify"},
		"nonce_str":    {""},
	}
	s, err := sign.Sign(params, "0123456789abcdef0123456789abcdef", sign.MD5)
	if err != nil {
		fmt.Println(err)
		return
	}
	params.Set(sign.Param, s)
	fmt.Println(s)
	// Output: FEDCE5974C86B57A5C6670A71E86DA70
}

// A notification is verified over its decoded form values, with the key
// of the endpoint that created the order. Passing the old and the new key
// lets a merchant rotate keys without losing notifications.
func ExampleVerify() {
	body := "bank_type=CFT&mch_id=00000001&nonce_str=1523929649387&out_trade_no=1497769914931" +
		"&out_transaction_id=4200000000000000000000000000&pay_result=0&result_code=SUCCESS" +
		"&state=SUCCESS&time_end=20180417094729&total_fee=4&trade_type=pay.weixin.native" +
		"&transaction_id=199520439266201804177199552446&sign=cab6021507b842f2ab4678029b41e9b5"
	params, err := url.ParseQuery(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	const oldKey, newKey = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	fmt.Println(sign.Verify(params, sign.MD5, newKey, oldKey))

	params.Set("total_fee", "1") // tampered amount
	err = sign.Verify(params, sign.MD5, newKey, oldKey)
	fmt.Println(errors.Is(err, sign.ErrBadSign), err)
	// Output:
	// <nil>
	// true sign: signature mismatch
}

// StringToSign shows what is hashed; pass a placeholder key to keep the
// real one off the screen.
func ExampleStringToSign() {
	params := url.Values{"b": {"2"}, "A": {"1"}, "attach": {" "}, "sign": {"X"}}
	s, _ := sign.StringToSign(params, "KEY")
	fmt.Println(s)
	// Output: A=1&b=2&key=KEY
}
