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

// equalHexFold reports whether s is the hex of sum in either letter case.
// Past the length check, which gives away nothing secret, it runs in time
// independent of the bytes: no branch and no table lookup depends on them,
// and the differences are ORed together rather than stopping at the first.
// It compares eight digits at a time, and encoding sum to compare it, rather
// than decoding s, needs no buffer and lets digits of either case pass in
// one step. len(sum) must be a multiple of 4 (every digest size is).
func equalHexFold(sum []byte, s string) bool {
	if len(s) != 2*len(sum) {
		return false
	}
	const (
		lanes  = 0x000F000F000F000F // the low nibble of each 16-bit lane
		ones   = 0x0101010101010101
		letter = 'a' - '0' - 10 // from '0'+n to 'a'+n-10
	)
	var bad uint64
	for len(sum) >= 4 && len(s) >= 8 {
		// Spread four sum bytes into 16-bit lanes, then split each byte
		// into its digits: high nibble in the lane's low byte, which is
		// the first digit once compared with little-endian loads of s.
		w := uint64(sum[0]) | uint64(sum[1])<<16 | uint64(sum[2])<<32 | uint64(sum[3])<<48
		x := w>>4&lanes | (w&lanes)<<8
		// Per byte: 1 where the nibble is 10-15 (adding 6 carries it into
		// bit 4). No byte can carry into the next.
		isLetter := (x + 6*ones) >> 4 & ones
		want := x + '0'*ones + isLetter*letter
		got := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		// A letter may differ from its lower-case form in the case bit
		// alone; a digit must match exactly, so no other byte passes.
		bad |= (got ^ want) &^ (isLetter * 0x20)
		sum, s = sum[4:], s[8:]
	}
	return bad == 0 && len(sum) == 0
}
