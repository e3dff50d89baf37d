package sign

import (
	"crypto/subtle"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Param is the name of the parameter that carries the signature.
const Param = "sign"

// pair is one signed name=value.
type pair struct{ k, v string }

// stackBuf is the canonical string that fits on the stack; the documented
// notifications are well under it. Longer messages go to the heap.
const stackBuf = 1024

// stackPairs covers every documented message (the largest has about 25
// fields) without a heap allocation for the sort. It must not exceed
// indexMask+1.
const stackPairs = 40

// Sign returns the upper-case hex sign of params under key. Every sign
// parameter in params (any letter case, any number of values) is ignored.
// Any other name given more than once is ErrMalformed: the gateway would
// read only one of the values, and guessing which one is how signatures get
// bypassed.
func Sign(params url.Values, key string, alg Algorithm) (string, error) {
	var arr [stackPairs]pair
	pairs, _, err := fromValues(arr[:0], params, false)
	if err != nil {
		return "", err
	}
	return signPairs(pairs, key, alg)
}

// SignMap is Sign for a map, as decoded from a JSON response whose members
// are all strings.
func SignMap(params map[string]string, key string, alg Algorithm) (string, error) {
	var arr [stackPairs]pair
	pairs, _, err := fromMap(arr[:0], params, false)
	if err != nil {
		return "", err
	}
	return signPairs(pairs, key, alg)
}

// Verify checks the sign carried in params against each key in turn (more
// than one key lets a merchant rotate keys without dropping notifications).
// The sign may be in either letter case; the comparison is constant-time.
// It returns nil, ErrMissingSign, ErrBadSign, ErrMalformed, ErrNoKey or
// ErrUnknownAlgorithm.
func Verify(params url.Values, alg Algorithm, keys ...string) error {
	var arr [stackPairs]pair
	pairs, got, err := fromValues(arr[:0], params, true)
	if err != nil {
		return err
	}
	return verifyPairs(pairs, got, alg, keys)
}

// VerifyMap is Verify for a map.
func VerifyMap(params map[string]string, alg Algorithm, keys ...string) error {
	var arr [stackPairs]pair
	pairs, got, err := fromMap(arr[:0], params, true)
	if err != nil {
		return err
	}
	return verifyPairs(pairs, got, alg, keys)
}

// StringToSign returns the exact string that is hashed: the canonical
// parameters followed by "&key=" and key. It is meant for debugging (pass a
// placeholder key to keep the real one off screens and logs).
func StringToSign(params url.Values, key string) (string, error) {
	var arr [stackPairs]pair
	pairs, _, err := fromValues(arr[:0], params, false)
	if err != nil {
		return "", err
	}
	return string(appendKey(appendCanonical(nil, pairs, len(key)), key)), nil
}

func signPairs(pairs []pair, key string, alg Algorithm) (string, error) {
	size := alg.size()
	if size == 0 {
		return "", fmt.Errorf("%w: %q", ErrUnknownAlgorithm, string(alg))
	}
	if key == "" {
		return "", ErrNoKey
	}
	var buf [stackBuf]byte
	msg := appendKey(appendCanonical(buf[:0], pairs, len(key)), key)
	sum := alg.digest(msg, key)
	return upperHex(sum[:size]), nil
}

func verifyPairs(pairs []pair, got string, alg Algorithm, keys []string) error {
	size := alg.size()
	if size == 0 {
		return fmt.Errorf("%w: %q", ErrUnknownAlgorithm, string(alg))
	}
	if got == "" {
		return ErrMissingSign
	}
	longest := 0
	for _, k := range keys {
		longest = max(longest, len(k))
	}
	if longest == 0 {
		return ErrNoKey
	}
	var want [maxSize]byte
	if !decodeHex(want[:size], got) {
		return ErrBadSign
	}
	var buf [stackBuf]byte
	msg := appendCanonical(buf[:0], pairs, longest)
	prefix := len(msg)
	for _, k := range keys {
		if k == "" {
			continue
		}
		msg = appendKey(msg[:prefix], k)
		sum := alg.digest(msg, k)
		if subtle.ConstantTimeCompare(sum[:size], want[:size]) == 1 {
			return nil
		}
	}
	return ErrBadSign
}

// fromValues collects the signed pairs and, when verifying, the received
// sign. Signing ignores every sign-like name; verifying accepts exactly one,
// because two (sign and SIGN, or sign=A&sign=B) are ambiguous.
func fromValues(dst []pair, params url.Values, verifying bool) ([]pair, string, error) {
	var got string
	seenSign := false
	for k, vs := range params {
		if isSignName(k) {
			if !verifying {
				continue
			}
			if seenSign || len(vs) > 1 {
				return nil, "", fmt.Errorf("%w: more than one sign parameter", ErrMalformed)
			}
			if len(vs) == 1 {
				seenSign, got = true, vs[0]
			}
			continue
		}
		if len(vs) > 1 {
			return nil, "", fmt.Errorf("%w: %q given %d times", ErrMalformed, k, len(vs))
		}
		if len(vs) == 0 || k == "" || isBlank(vs[0]) {
			continue
		}
		dst = append(dst, pair{k, vs[0]})
	}
	return dst, got, nil
}

func fromMap(dst []pair, params map[string]string, verifying bool) ([]pair, string, error) {
	var got string
	seenSign := false
	for k, v := range params {
		if isSignName(k) {
			if !verifying {
				continue
			}
			if seenSign {
				return nil, "", fmt.Errorf("%w: more than one sign parameter", ErrMalformed)
			}
			seenSign, got = true, v
			continue
		}
		if k == "" || isBlank(v) {
			continue
		}
		dst = append(dst, pair{k, v})
	}
	return dst, got, nil
}

func isSignName(k string) bool { return len(k) == len(Param) && strings.EqualFold(k, Param) }

// isBlank reports an empty or whitespace-only value; the gateway's own code
// (IsNullOrWhiteSpace) leaves those out of the signed string.
// Most values start with a printable ASCII byte, which this inlined check
// settles at once.
func isBlank(v string) bool {
	if len(v) > 0 && v[0] > ' ' && v[0] < 0x80 {
		return false
	}
	return isBlankSlow(v)
}

func isBlankSlow(v string) bool {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			continue
		}
		if v[i] < 0x80 {
			return false
		}
		return strings.TrimSpace(v) == ""
	}
	return true
}

// appendCanonical writes "k=v&k=v" for pairs in canonical order, leaving
// room for "&key=" and a key of keyLen bytes so the key append does not
// reallocate. It may reorder pairs.
func appendCanonical(buf []byte, pairs []pair, keyLen int) []byte {
	n := len("&key=") + keyLen
	for _, p := range pairs {
		n += len(p.k) + len(p.v) + 2
	}
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	var arr [stackPairs]uint64
	order := sortedOrder(arr[:0], pairs)
	for i := range pairs {
		p := &pairs[i]
		if order != nil {
			p = &pairs[order[i]&indexMask]
		}
		if i > 0 {
			buf = append(buf, '&')
		}
		buf = append(buf, p.k...)
		buf = append(buf, '=')
		buf = append(buf, p.v...)
	}
	return buf
}

func appendKey(buf []byte, key string) []byte {
	buf = append(buf, "&key="...)
	return append(buf, key...)
}

// indexMask selects the index of a pair in a sort key; the rest of the
// key is the name's folded prefix. stackPairs must stay within it.
const indexMask = 0xFF

// sortedOrder returns, for up to stackPairs pairs, their sort keys in
// canonical order: the lower-cased first seven bytes of the name in the
// top bits and the pair's index in the low byte. A plain integer sort then
// decides nearly every comparison, with no pointers moved and no branch on
// a second field; each run of names that share a seven-byte prefix is then
// put right with the full rule. More pairs than that are sorted in place
// and nil is returned.
//
// The order is the lower-case fold first and the bytes as the tie-break,
// as PROTOCOL.md section 2.1 step 4 prescribes. Folding to upper case would
// misplace '_' (0x5F) against letters.
func sortedOrder(dst []uint64, pairs []pair) []uint64 {
	if len(pairs) > stackPairs {
		slices.SortFunc(pairs, func(a, b pair) int {
			if lessName(a.k, b.k) {
				return -1
			}
			if lessName(b.k, a.k) {
				return 1
			}
			return 0
		})
		return nil
	}
	for i := range pairs {
		dst = append(dst, foldPrefix(pairs[i].k)&^indexMask|uint64(i))
	}
	for i := 1; i < len(dst); i++ {
		e, j := dst[i], i
		for ; j > 0 && e < dst[j-1]; j-- {
			dst[j] = dst[j-1]
		}
		dst[j] = e
	}
	for i := 1; i < len(dst); {
		if dst[i]>>8 != dst[i-1]>>8 {
			i++
			continue
		}
		start, end := i-1, i+1
		for end < len(dst) && dst[end]>>8 == dst[start]>>8 {
			end++
		}
		sortTies(dst[start:end], pairs)
		i = end
	}
	return dst
}

// sortTies orders keys with one shared prefix by their full names.
func sortTies(keys []uint64, pairs []pair) {
	for i := 1; i < len(keys); i++ {
		e, j := keys[i], i
		for ; j > 0 && lessName(pairs[e&indexMask].k, pairs[keys[j-1]&indexMask].k); j-- {
			keys[j] = keys[j-1]
		}
		keys[j] = e
	}
}

// foldPrefix packs the lower-cased first eight bytes of k big-endian.
// Two prefixes that differ order as lessName orders the names: they differ
// at a byte both names have, or where the shorter name ends (its zero
// padding against a non-zero byte, and lessName puts the shorter name first
// too). Equal prefixes fall back to lessName.
func foldPrefix(k string) uint64 {
	if len(k) < 8 {
		return foldShort(k)
	}
	return lower8(uint64(k[0])<<56 | uint64(k[1])<<48 | uint64(k[2])<<40 | uint64(k[3])<<32 |
		uint64(k[4])<<24 | uint64(k[5])<<16 | uint64(k[6])<<8 | uint64(k[7]))
}

// foldShort is foldPrefix for names under eight bytes.
func foldShort(k string) uint64 {
	var x uint64
	for i := 0; i < len(k); i++ {
		x |= uint64(k[i]) << (56 - 8*i)
	}
	return lower8(x)
}

// lower8 lower-cases the ASCII capitals among the eight bytes of x at once
// (the per-byte sums cannot carry into the next byte), leaving every other
// byte, non-ASCII included, as it is.
func lower8(x uint64) uint64 {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	h := x &^ msb
	atLeastA := h + (0x80-'A')*lsb
	aboveZ := h + (0x7F-'Z')*lsb
	upper := atLeastA &^ aboveZ &^ x & msb
	return x | upper>>2
}

func lessName(a, b string) bool {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := lower(a[i]), lower(b[i])
		if ca != cb {
			return ca < cb
		}
	}
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
