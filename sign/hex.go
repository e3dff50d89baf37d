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
// place so verification needs no allocation for it.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
