package model_test

import (
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cypaykit/kit/model"
)

// notificationNames are the wire names Notification declares, lower-case.
func notificationNames() map[string]bool {
	names := map[string]bool{}
	t := reflect.TypeOf(model.Notification{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("schema"), ",")
		if name != "" && name != "-" {
			names[strings.ToLower(name)] = true
		}
	}
	return names
}

// FuzzDecodeNotification feeds arbitrary bodies through url.ParseQuery to
// DecodeNotification, which must not panic and, when it succeeds, must
// account for every received name: a declared field (in any letter case),
// or kept in Extra with its value.
func FuzzDecodeNotification(f *testing.F) {
	f.Add("bank_type=CFT&mch_id=f20170519135901860000&nonce_str=1523929649387&out_trade_no=1523929500000&pay_result=0&result_code=SUCCESS&sign=00&state=SUCCESS&time_end=20180417094729&total_fee=1&trade_type=pay.weixin.native&transaction_id=1")
	f.Add("gmt_create=20180417094613&fund_bill_list=[{\"amount\":\"0.01\"}]&ext=1&EXT=2")
	f.Add("total_fee=1.5&coupon_fee=-1&a.b.c=1&Extra=x&extra.0=y&=z&%zz")
	f.Add("total_fee=1&total_fee=2&TOTAL_FEE=3")
	known := notificationNames()
	f.Fuzz(func(t *testing.T, body string) {
		values, _ := url.ParseQuery(body)
		n, err := model.DecodeNotification(values)
		if err != nil {
			if n != nil {
				t.Fatalf("got a notification and an error: %v", err)
			}
			return
		}
		for k, vs := range values {
			if known[strings.ToLower(k)] {
				if n.Extra.Has(k) {
					t.Fatalf("%q is both a field and in Extra", k)
				}
				continue
			}
			if got := n.Extra[k]; !reflect.DeepEqual(got, vs) {
				t.Fatalf("Extra[%q]: got %q, want %q", k, got, vs)
			}
		}
		for k := range n.Extra {
			if _, ok := values[k]; !ok {
				t.Fatalf("Extra has %q, which was not received", k)
			}
		}
		if raw := values.Get("total_fee"); raw != "" {
			want, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || n.TotalFee != want {
				t.Fatalf("total_fee %q decoded as %d", raw, n.TotalFee)
			}
		}
	})
}
