package sign_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/cypaykit/kit/sign"
)

var fuzzAlgorithms = []sign.Algorithm{sign.MD5, sign.SHA1, sign.SHA256, sign.HMACSHA256}

// FuzzSignVerify checks that Verify accepts what Sign produced, in either
// letter case, and that changing one byte of a signed value or of the key
// makes it fail.
func FuzzSignVerify(f *testing.F) {
	f.Add("total_fee", "4", "mch_id", "00000001", "body", "超赢支付", testKey, uint8(0), uint16(0), byte(1))
	f.Add("a", "1&b=2", "a&b", "2", "SIGN", "x", "k", uint8(5), uint16(3), byte(0x20))
	f.Add("A", "x", "a", "y", "pay_info", " y ", "\x00", uint8(14), uint16(7), byte(0x80))
	f.Add("n", "\u00a0v", "", "v", "m", "\t", "key", uint8(3), uint16(1), byte(0xff))
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, n3, v3, key string, which uint8, pos uint16, flip byte) {
		alg := fuzzAlgorithms[int(which)%len(fuzzAlgorithms)]
		params := url.Values{}
		params.Set(n1, v1)
		params.Set(n2, v2)
		params.Set(n3, v3)

		s, err := sign.Sign(params, key, alg)
		if key == "" {
			if !errors.Is(err, sign.ErrNoKey) {
				t.Fatalf("Sign with empty key: got %v, want ErrNoKey", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}

		signed := url.Values{}
		for k, vs := range params {
			if !strings.EqualFold(k, sign.Param) {
				signed[k] = vs
			}
		}
		signed.Set(sign.Param, s)
		if err := sign.Verify(signed, alg, key); err != nil {
			t.Fatalf("Verify(Sign(x)): got %v, want nil", err)
		}
		signed.Set(sign.Param, strings.ToLower(s))
		if err := sign.Verify(signed, alg, key); err != nil {
			t.Fatalf("Verify(lower(Sign(x))): got %v, want nil", err)
		}
		signed.Set(sign.Param, s)

		if flip == 0 {
			flip = 1
		}
		target := int(which) / len(fuzzAlgorithms) % 4
		if target == 3 {
			k := []byte(key)
			k[int(pos)%len(k)] ^= flip
			if err := sign.Verify(signed, alg, string(k)); !errors.Is(err, sign.ErrBadSign) {
				t.Fatalf("Verify with a changed key: got %v, want ErrBadSign", err)
			}
			return
		}

		// Change one byte of a value that is signed before and after the
		// change: the canonical string then differs in exactly that byte.
		name := []string{n1, n2, n3}[target]
		if name == "" || strings.EqualFold(name, sign.Param) {
			t.Skip("name is not signed")
		}
		val := signed.Get(name)
		if strings.TrimSpace(val) == "" {
			t.Skip("value is blank, so not signed")
		}
		b := []byte(val)
		b[int(pos)%len(b)] ^= flip
		if strings.TrimSpace(string(b)) == "" {
			t.Skip("the change blanks the value, which drops it legitimately")
		}
		signed.Set(name, string(b))
		if err := sign.Verify(signed, alg, key); !errors.Is(err, sign.ErrBadSign) {
			t.Fatalf("Verify with %q changed: got %v, want ErrBadSign", name, err)
		}
	})
}

// FuzzVerifyNoPanic feeds arbitrary form bodies to Verify, which must
// return nil or one of the package's sentinels and never panic. When the
// body can be signed, its signed form must verify.
func FuzzVerifyNoPanic(f *testing.F) {
	f.Add("a=1&sign=0CC175B9C0F1B6A831C399E269772661")
	f.Add("a=1&a=2&sign=x")
	f.Add("sign=&SIGN=&=&%zz")
	f.Add("bank_type=CFT&mch_id=00000001&nonce_str=1523929649387&out_trade_no=1497769914931&out_transaction_id=4200000000000000000000000000&pay_result=0&result_code=SUCCESS&state=SUCCESS&time_end=20180417094729&total_fee=4&trade_type=pay.weixin.native&transaction_id=199520439266201804177199552446&sign=CAB6021507B842F2AB4678029B41E9B5")
	sentinels := []error{sign.ErrMissingSign, sign.ErrBadSign, sign.ErrMalformed, sign.ErrNoKey, sign.ErrUnknownAlgorithm}
	f.Fuzz(func(t *testing.T, body string) {
		params, _ := url.ParseQuery(body)
		for _, alg := range fuzzAlgorithms {
			err := sign.Verify(params, alg, testKey)
			if err != nil && !isOneOf(err, sentinels) {
				t.Fatalf("Verify %s: got %v, want nil or a sentinel", alg, err)
			}
			m := map[string]string{}
			for k, vs := range params {
				if len(vs) > 0 {
					m[k] = vs[0]
				}
			}
			if err := sign.VerifyMap(m, alg, testKey); err != nil && !isOneOf(err, sentinels) {
				t.Fatalf("VerifyMap %s: got %v, want nil or a sentinel", alg, err)
			}

			s, err := sign.Sign(params, testKey, alg)
			if err != nil {
				if !errors.Is(err, sign.ErrMalformed) {
					t.Fatalf("Sign %s: got %v, want nil or ErrMalformed", alg, err)
				}
				continue
			}
			signed := url.Values{}
			for k, vs := range params {
				if !strings.EqualFold(k, sign.Param) {
					signed[k] = vs
				}
			}
			signed.Set(sign.Param, s)
			if err := sign.Verify(signed, alg, testKey); err != nil {
				t.Fatalf("Verify(Sign(body)) %s: got %v, want nil", alg, err)
			}
		}
	})
}

func isOneOf(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
