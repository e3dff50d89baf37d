package sign

import (
	"strconv"
	"strings"
	"testing"
)

// TestEqualHexFold changes each digit of a sign to every byte value: only
// the same digit, in either letter case, may pass.
func TestEqualHexFold(t *testing.T) {
	for _, size := range []int{16, 20, 32} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			sum := make([]byte, size)
			for i := range sum {
				sum[i] = byte(i*37 + 0x5a) // every nibble value appears
			}
			upper := upperHex(sum)
			lower := strings.ToLower(upper)
			for _, s := range []string{upper, lower, mixCase(upper)} {
				if !equalHexFold(sum, s) {
					t.Errorf("equalHexFold(%x, %q): got false, want true", sum, s)
				}
			}
			for _, s := range []string{"", upper[:len(upper)-1], upper + "0", upper[:len(upper)-2]} {
				if equalHexFold(sum, s) {
					t.Errorf("equalHexFold(%x, %q): got true, want false", sum, s)
				}
			}
			for pos := range lower {
				for c := 0; c < 256; c++ {
					b := []byte(lower)
					b[pos] = byte(c)
					d := lower[pos]
					want := byte(c) == d || 'a' <= d && d <= 'f' && byte(c) == d-'a'+'A'
					if got := equalHexFold(sum, string(b)); got != want {
						t.Fatalf("digit %d of %q set to %#x: got %v, want %v", pos, lower, c, got, want)
					}
				}
			}
		})
	}
}

// mixCase upper-cases every other letter of a lower-case hex string.
func mixCase(s string) string {
	b := []byte(strings.ToLower(s))
	for i := 0; i < len(b); i += 2 {
		if 'a' <= b[i] && b[i] <= 'f' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}
