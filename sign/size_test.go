package sign_test

import (
	"crypto/md5"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/cypaykit/kit/sign"
)

// TestMessageSizes covers each way a message's pairs are held (small and
// large stack arrays, and the heap past them, with the sort that replaces
// insertion there) and proves they all give the reference string, and that
// Sign, Verify and their map forms agree on it.
func TestMessageSizes(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 15, 16, 17, 39, 40, 41, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			v, m := manyParams(n)
			got, err := sign.StringToSign(v, testKey)
			if err != nil {
				t.Fatal(err)
			}
			if want := referenceString(m, testKey); got != want {
				t.Fatalf("StringToSign:\n got %s\nwant %s", got, want)
			}
			want := fmt.Sprintf("%X", md5.Sum([]byte(got)))
			s, err := sign.Sign(v, testKey, sign.MD5)
			if err != nil || s != want {
				t.Fatalf("Sign: got %q, %v; want %q", s, err, want)
			}
			if s, err := sign.SignMap(m, testKey, sign.MD5); err != nil || s != want {
				t.Fatalf("SignMap: got %q, %v; want %q", s, err, want)
			}
			v.Set(sign.Param, strings.ToLower(want))
			m[sign.Param] = want
			if err := sign.Verify(v, sign.MD5, otherKey, testKey); err != nil {
				t.Fatalf("Verify: got %v, want nil", err)
			}
			if err := sign.VerifyMap(m, sign.MD5, testKey); err != nil {
				t.Fatalf("VerifyMap: got %v, want nil", err)
			}
			if err := sign.Verify(v, sign.MD5, otherKey); err == nil {
				t.Fatal("Verify under another key: got nil, want ErrBadSign")
			}
		})
	}
}

// manyParams returns n signed parameters (plus blank ones, which are not
// signed) whose names share long prefixes and differ in letter case.
func manyParams(n int) (url.Values, map[string]string) {
	v, m := url.Values{}, map[string]string{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("out_trade_%d", i)
		switch i % 4 {
		case 1:
			name = strings.ToUpper(name)
		case 2:
			name = fmt.Sprintf("x%d", i)
		}
		val := fmt.Sprintf("v%d", i*7)
		v.Set(name, val)
		m[name] = val
	}
	if n%2 == 1 {
		v.Set("blank", " ")
		m["blank"] = " "
	}
	return v, m
}

// referenceString builds the string to sign straight from docs/protocol.md
// section 2.1.
func referenceString(m map[string]string, key string) string {
	var names []string
	for k, val := range m {
		if !strings.EqualFold(k, sign.Param) && strings.TrimSpace(val) != "" {
			names = append(names, k)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String() + "&key=" + key
}
