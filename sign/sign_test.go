package sign_test

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/cypaykit/kit/sign"
)

const (
	testKey  = "0123456789abcdef0123456789abcdef"
	otherKey = "fedcba9876543210fedcba9876543210"
)

// notify returns the WeChat notify vector's fields, signed with MD5 under
// key, as a fresh url.Values the caller may change.
func notify(tb testing.TB, key string) url.Values {
	tb.Helper()
	v := toValues(vectorNamed(tb, "notify-wechat").Params)
	s, err := sign.Sign(v, key, sign.MD5)
	if err != nil {
		tb.Fatalf("Sign: %v", err)
	}
	v.Set(sign.Param, s)
	return v
}

func TestVerifyErrors(t *testing.T) {
	t.Parallel()
	good := notify(t, testKey)
	goodSign := good.Get(sign.Param)
	edit := func(f func(v url.Values)) url.Values {
		v := url.Values{}
		for k, vs := range good {
			v[k] = slices.Clone(vs)
		}
		f(v)
		return v
	}
	tests := []struct {
		name   string
		params url.Values
		alg    sign.Algorithm
		keys   []string
		want   error
	}{
		{"valid", good, sign.MD5, []string{testKey}, nil},
		{"zero algorithm is MD5", good, "", []string{testKey}, nil},
		{"lower-case sign", edit(func(v url.Values) { v.Set("sign", strings.ToLower(goodSign)) }), sign.MD5, []string{testKey}, nil},
		{"upper-case sign name", edit(func(v url.Values) { v.Del("sign"); v.Set("SIGN", goodSign) }), sign.MD5, []string{testKey}, nil},
		{"blank field added", edit(func(v url.Values) { v.Set("attach", " \t") }), sign.MD5, []string{testKey}, nil},
		{"empty field added", edit(func(v url.Values) { v.Set("attach", "") }), sign.MD5, []string{testKey}, nil},

		{"absent sign", edit(func(v url.Values) { v.Del("sign") }), sign.MD5, []string{testKey}, sign.ErrMissingSign},
		{"empty sign", edit(func(v url.Values) { v.Set("sign", "") }), sign.MD5, []string{testKey}, sign.ErrMissingSign},
		{"sign with no values", edit(func(v url.Values) { v["sign"] = []string{} }), sign.MD5, []string{testKey}, sign.ErrMissingSign},

		{"wrong sign", edit(func(v url.Values) { v.Set("sign", strings.Repeat("A", 32)) }), sign.MD5, []string{testKey}, sign.ErrBadSign},
		{"sign too short", edit(func(v url.Values) { v.Set("sign", goodSign[:31]) }), sign.MD5, []string{testKey}, sign.ErrBadSign},
		{"sign too long", edit(func(v url.Values) { v.Set("sign", goodSign+"00") }), sign.MD5, []string{testKey}, sign.ErrBadSign},
		{"sign not hex", edit(func(v url.Values) { v.Set("sign", "G"+goodSign[1:]) }), sign.MD5, []string{testKey}, sign.ErrBadSign},
		{"sign with space", edit(func(v url.Values) { v.Set("sign", " "+goodSign[1:]) }), sign.MD5, []string{testKey}, sign.ErrBadSign},
		{"wrong key", good, sign.MD5, []string{otherKey}, sign.ErrBadSign},
		{"key differs in case", good, sign.MD5, []string{strings.ToUpper(testKey)}, sign.ErrBadSign},
		{"other algorithm", good, sign.SHA256, []string{testKey}, sign.ErrBadSign},
		{"tampered amount", edit(func(v url.Values) { v.Set("total_fee", "40") }), sign.MD5, []string{testKey}, sign.ErrBadSign},
		{"field added", edit(func(v url.Values) { v.Set("attach", "x") }), sign.MD5, []string{testKey}, sign.ErrBadSign},
		{"field removed", edit(func(v url.Values) { v.Del("bank_type") }), sign.MD5, []string{testKey}, sign.ErrBadSign},
		{"field blanked", edit(func(v url.Values) { v.Set("bank_type", " ") }), sign.MD5, []string{testKey}, sign.ErrBadSign},
		{"field renamed", edit(func(v url.Values) { v.Set("Bank_type", v.Get("bank_type")); v.Del("bank_type") }), sign.MD5, []string{testKey}, sign.ErrBadSign},

		{"name given twice", edit(func(v url.Values) { v["total_fee"] = []string{"4", "4"} }), sign.MD5, []string{testKey}, sign.ErrMalformed},
		{"sign given twice", edit(func(v url.Values) { v["sign"] = []string{goodSign, goodSign} }), sign.MD5, []string{testKey}, sign.ErrMalformed},
		{"sign and SIGN", edit(func(v url.Values) { v.Set("SIGN", goodSign) }), sign.MD5, []string{testKey}, sign.ErrMalformed},
		{"sign and empty Sign", edit(func(v url.Values) { v.Set("Sign", "") }), sign.MD5, []string{testKey}, sign.ErrMalformed},

		{"no key", good, sign.MD5, nil, sign.ErrNoKey},
		{"only empty keys", good, sign.MD5, []string{"", ""}, sign.ErrNoKey},

		{"unknown algorithm", good, "MD4", []string{testKey}, sign.ErrUnknownAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := sign.Verify(tt.params, tt.alg, tt.keys...)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err != nil {
				assertNoSecrets(t, err, tt.keys, tt.params)
			}
		})
	}
}

// assertNoSecrets fails if err's message carries a key or a value.
func assertNoSecrets(tb testing.TB, err error, keys []string, params url.Values) {
	tb.Helper()
	msg := err.Error()
	for _, k := range keys {
		if k != "" && strings.Contains(msg, k) {
			tb.Errorf("error %q reveals a key", msg)
		}
	}
	for _, vs := range params {
		for _, v := range vs {
			if len(v) >= 4 && strings.Contains(msg, v) {
				tb.Errorf("error %q reveals the value %q", msg, v)
			}
		}
	}
}

// TestVerifyErrorPrecedence pins which sentinel wins when several apply,
// so that callers can rely on ErrMalformed before any key is tried.
func TestVerifyErrorPrecedence(t *testing.T) {
	t.Parallel()
	dup := url.Values{"a": {"1", "2"}}
	if err := sign.Verify(dup, "MD4"); !errors.Is(err, sign.ErrMalformed) {
		t.Errorf("duplicate name, bad algorithm, no key: got %v, want ErrMalformed", err)
	}
	noSign := url.Values{"a": {"1"}}
	if err := sign.Verify(noSign, "MD4", testKey); !errors.Is(err, sign.ErrUnknownAlgorithm) {
		t.Errorf("no sign, bad algorithm: got %v, want ErrUnknownAlgorithm", err)
	}
	if err := sign.Verify(noSign, sign.MD5); !errors.Is(err, sign.ErrMissingSign) {
		t.Errorf("no sign, no key: got %v, want ErrMissingSign", err)
	}
}

func TestSignErrors(t *testing.T) {
	t.Parallel()
	params := toValues(vectorNamed(t, "notify-wechat").Params)
	tests := []struct {
		name   string
		params url.Values
		key    string
		alg    sign.Algorithm
		want   error
	}{
		{"empty key", params, "", sign.MD5, sign.ErrNoKey},
		{"unknown algorithm", params, testKey, "SHA512", sign.ErrUnknownAlgorithm},
		{"name given twice", url.Values{"a": {"1", "2"}}, testKey, sign.MD5, sign.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sign.Sign(tt.params, tt.key, tt.alg)
			if !errors.Is(err, tt.want) || got != "" {
				t.Fatalf("Sign: got %q, %v; want \"\", %v", got, err, tt.want)
			}
			m := map[string]string{}
			for k, vs := range tt.params {
				m[k] = vs[0]
			}
			if tt.want != sign.ErrMalformed { // a map cannot hold a name twice
				if got, err := sign.SignMap(m, tt.key, tt.alg); !errors.Is(err, tt.want) || got != "" {
					t.Fatalf("SignMap: got %q, %v; want \"\", %v", got, err, tt.want)
				}
			}
		})
	}
	if _, err := sign.StringToSign(url.Values{"a": {"1", "2"}}, testKey); !errors.Is(err, sign.ErrMalformed) {
		t.Errorf("StringToSign with a=1&a=2: got %v, want ErrMalformed", err)
	}
}

// TestSignIgnoresSign shows that a sign already present, in any case and
// with any number of values, never changes the result.
func TestSignIgnoresSign(t *testing.T) {
	t.Parallel()
	base := toValues(vectorNamed(t, "notify-wechat").Params)
	want, err := sign.Sign(base, testKey, sign.MD5)
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range []url.Values{
		{"sign": {"X"}},
		{"SIGN": {"X"}, "sign": {"Y"}},
		{"Sign": {"X", "Y"}},
		{"sIgN": {""}},
	} {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		got, err := sign.Sign(v, testKey, sign.MD5)
		if err != nil || got != want {
			t.Errorf("Sign with %v: got %q, %v; want %q", extra, got, err, want)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	const thirdKey = "00000000000000000000000000000000"
	tests := []struct {
		name   string
		signer string
		keys   []string
		want   error
	}{
		{"old key, old first", testKey, []string{testKey, otherKey}, nil},
		{"new key, old first", otherKey, []string{testKey, otherKey}, nil},
		{"old key, new first", testKey, []string{otherKey, testKey}, nil},
		{"empty key skipped", otherKey, []string{"", otherKey}, nil},
		{"neither key", thirdKey, []string{testKey, otherKey}, sign.ErrBadSign},
		{"key dropped after rotation", testKey, []string{otherKey}, sign.ErrBadSign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := notify(t, tt.signer)
			if err := sign.Verify(v, sign.MD5, tt.keys...); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Verify: got %v, want %v", err, tt.want)
			}
			m := map[string]string{}
			for k := range v {
				m[k] = v.Get(k)
			}
			if err := sign.VerifyMap(m, sign.MD5, tt.keys...); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifyMap: got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestKeyRotationLongerSecondKey covers keys of different lengths, where
// the canonical buffer must make room for the longest.
func TestKeyRotationLongerSecondKey(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", 300)
	for _, alg := range []sign.Algorithm{sign.MD5, sign.SHA1, sign.SHA256, sign.HMACSHA256} {
		v := toValues(vectorNamed(t, "notify-wechat").Params)
		s, err := sign.Sign(v, long, alg)
		if err != nil {
			t.Fatal(err)
		}
		v.Set(sign.Param, s)
		if err := sign.Verify(v, alg, "short", long); err != nil {
			t.Errorf("%s: got %v, want nil", alg, err)
		}
	}
}

func TestParseAlgorithm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want sign.Algorithm
		err  error
	}{
		{"", sign.MD5, nil},
		{"MD5", sign.MD5, nil},
		{"md5", sign.MD5, nil},
		{" Md5 ", sign.MD5, nil},
		{"SHA1", sign.SHA1, nil},
		{"sha-1", sign.SHA1, nil},
		{"SHA256", sign.SHA256, nil},
		{"sha-256", sign.SHA256, nil},
		{"HMAC-SHA256", sign.HMACSHA256, nil},
		{"hmacsha256", sign.HMACSHA256, nil},
		{"HMAC_SHA256", sign.HMACSHA256, nil},
		{"hmac", sign.HMACSHA256, nil},
		{"MD4", "", sign.ErrUnknownAlgorithm},
		{"SHA512", "", sign.ErrUnknownAlgorithm},
		{"none", "", sign.ErrUnknownAlgorithm},
		{"MD5 ", sign.MD5, nil},
		{"M D5", "", sign.ErrUnknownAlgorithm},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			t.Parallel()
			got, err := sign.ParseAlgorithm(tt.in)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// TestSignLength checks each algorithm's sign is upper-case hex of the
// digest's size.
func TestSignLength(t *testing.T) {
	t.Parallel()
	params := toValues(vectorNamed(t, "notify-wechat").Params)
	for alg, n := range map[sign.Algorithm]int{sign.MD5: 32, sign.SHA1: 40, sign.SHA256: 64, sign.HMACSHA256: 64} {
		s, err := sign.Sign(params, testKey, alg)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != n || strings.ToUpper(s) != s || strings.Trim(s, "0123456789ABCDEF") != "" {
			t.Errorf("%s: got %q, want %d upper-case hex digits", alg, s, n)
		}
	}
}

func TestMapVariants(t *testing.T) {
	t.Parallel()
	vec := vectorNamed(t, "notify-alipay-with-extension-field")
	want := vec.Sign["MD5"]
	tests := []struct {
		name   string
		params map[string]string
		want   error
	}{
		{"valid", withSign(vec.Params, want), nil},
		{"lower-case", withSign(vec.Params, strings.ToLower(want)), nil},
		{"empty sign", withSign(vec.Params, ""), sign.ErrMissingSign},
		{"absent sign", vec.Params, sign.ErrMissingSign},
		{"sign and Sign", func() map[string]string { m := withSign(vec.Params, want); m["Sign"] = want; return m }(), sign.ErrMalformed},
		{"tampered", func() map[string]string { m := withSign(vec.Params, want); m["total_fee"] = "100"; return m }(), sign.ErrBadSign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := sign.VerifyMap(tt.params, sign.MD5, vec.Key)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			// The url.Values form must agree with the map form.
			if verr := sign.Verify(toValues(tt.params), sign.MD5, vec.Key); !errors.Is(verr, tt.want) || (tt.want == nil) != (verr == nil) {
				t.Fatalf("Verify disagrees: got %v, want %v", verr, tt.want)
			}
		})
	}
	if err := sign.VerifyMap(withSign(vec.Params, want), sign.MD5); !errors.Is(err, sign.ErrNoKey) {
		t.Errorf("VerifyMap without keys: got %v, want ErrNoKey", err)
	}
	if err := sign.VerifyMap(withSign(vec.Params, want), "X", vec.Key); !errors.Is(err, sign.ErrUnknownAlgorithm) {
		t.Errorf("VerifyMap with algorithm X: got %v, want ErrUnknownAlgorithm", err)
	}
}

// TestSortManyNames covers messages with more names than the small-slice
// sort handles, and must order them as the small case does.
func TestSortManyNames(t *testing.T) {
	t.Parallel()
	names := []string{
		"Zeta", "alpha", "ReqId", "pay_info", "paytype", "pay_result", "B", "a", "A",
		"total_fee", "mch_id", "body", "attach", "nonce_str", "out_trade_no",
		"time_end", "bank_type", "fee_type", "device_info", "x1", "X1", "x_1", "x", "Y2k",
	}
	v := url.Values{}
	for i, n := range names {
		v.Set(n, fmt.Sprint(i))
	}
	got, err := sign.StringToSign(v, "K")
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(names)
	slices.SortFunc(sorted, func(a, b string) int {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var want []string
	for _, n := range sorted {
		want = append(want, n+"="+v.Get(n))
	}
	if w := strings.Join(want, "&") + "&key=K"; got != w {
		t.Fatalf("StringToSign:\n got %s\nwant %s", got, w)
	}
	// A prefix sorts before its extensions, whatever the letter case.
	if i, j := strings.Index(got, "&x="), strings.Index(got, "&X1="); i < 0 || j < 0 || i > j {
		t.Errorf("got %s, want x before X1", got)
	}
}
