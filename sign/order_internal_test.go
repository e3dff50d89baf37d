package sign

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzFoldPrefix proves the sort's integer shortcut never disagrees with
// the byte-wise rule it stands for.
func FuzzFoldPrefix(f *testing.F) {
	for _, s := range [][2]string{
		{"pay_info", "paytype"}, {"A", "a"}, {"ReqId", "reqid"}, {"a\x00", "a"},
		{"out_trade_no", "out_transaction_id"}, {"Zeta", "alpha"}, {"\xc0x", "@x"}, {"[", "Z"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		var want uint64
		for i := 0; i < 8; i++ {
			want <<= 8
			if i < len(a) {
				want |= uint64(lower(a[i]))
			}
		}
		if got := foldPrefix(a); got != want {
			t.Fatalf("foldPrefix(%q): got %#x, want %#x", a, got, want)
		}
		fa, fb := foldPrefix(a), foldPrefix(b)
		if fa != fb && (fa < fb) != lessName(a, b) {
			t.Fatalf("%q vs %q: prefix order %v, lessName %v", a, b, fa < fb, lessName(a, b))
		}
	})
}

// FuzzCanonicalOrder checks the prefix-key insertion sort, its tie runs
// and the comparison sort for long messages against a plain reference sort.
func FuzzCanonicalOrder(f *testing.F) {
	f.Add("out_trade_no,out_transaction_id,out_tra,Out_Tra,total_fee,A,a", uint8(0))
	f.Add("pay_info,paytype,pay_result,ReqId,Zeta,alpha", uint8(41))
	f.Add("abcdefg1,abcdefg2,ABCDEFG1,abcdefg,abcdefgh", uint8(3))
	f.Fuzz(func(t *testing.T, list string, extra uint8) {
		seen := map[string]bool{}
		var pairs []pair
		add := func(k string) {
			if !seen[k] {
				seen[k] = true
				pairs = append(pairs, pair{k, "v"})
			}
		}
		for _, k := range strings.Split(list, ",") {
			add(k)
		}
		// Enough names sharing long prefixes to take the long-message path.
		for i := 0; i < int(extra)%64; i++ {
			add("out_trade_" + strconv.Itoa(i))
		}
		want := slices.Clone(pairs)
		slices.SortFunc(want, func(a, b pair) int {
			if c := strings.Compare(strings.ToLower(asciiOnly(a.k)), strings.ToLower(asciiOnly(b.k))); c != 0 {
				return c
			}
			return strings.Compare(a.k, b.k)
		})
		var arr [stackPairs]sortKey
		got := slices.Clone(pairs)
		order := sortedOrder(arr[:0], got)
		for i := range want {
			p := got[order[i].i]
			if p.k != want[i].k {
				t.Fatalf("position %d: got %q, want %q (all: %q)", i, p.k, want[i].k, list)
			}
		}
	})
}

// asciiOnly keeps strings.ToLower from touching non-ASCII bytes, which the
// gateway's rule leaves as they are: it maps them to private-use runes
// that sort after ASCII in their byte order.
func asciiOnly(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x80 {
			b.WriteByte(c)
		} else {
			b.WriteRune(0xF0000 + rune(c))
		}
	}
	return b.String()
}
