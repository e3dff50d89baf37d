package sign

import "crypto/sha256"

// maxSize is the largest digest this package produces.
const maxSize = sha256.Size

const upperDigits = "0123456789ABCDEF"

func upperHex(b []byte) string {
	out := make([]byte, len(b)*2)
	for i, c := range b {
		out[2*i] = upperDigits[c>>4]
		out[2*i+1] = upperDigits[c&0x0f]
	}
	return string(out)
}

// decodeHex fills dst from s, accepting either letter case, and reports
// whether s was exactly len(dst) bytes of hex. It works on the string in
// place so verification needs no allocation for it, and through a table so
// that it does not branch on each digit.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	var bad byte
	for i := range dst {
		hi, lo := hexValue[s[2*i]], hexValue[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo&0x0f
	}
	return bad&0xf0 == 0
}

// hexValue maps a hex digit to its value and anything else to 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()
