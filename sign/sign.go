package sign

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Param is the name of the parameter that carries the signature.
const Param = "sign"

// pair is one signed name=value.
type pair struct{ k, v string }

// Go zeroes a stack array each time it is declared, and zeroing kilobytes
// is a measurable part of verifying a short notification. So the arrays
// come in two sizes, and the small ones are used when they suffice.
const (
	// stackBuf is the canonical string that fits on the stack; the
	// documented notifications are well under it. Longer messages go to
	// the heap. smallBuf fits the WeChat notification (323 bytes with a
	// 32-byte key).
	stackBuf = 1024
	smallBuf = 384

	// stackPairs covers every documented message (the largest has about 25
	// fields) without a heap allocation; larger ones keep their pairs on
	// the heap. smallPairs covers short messages such as the WeChat
	// notification (12 fields and the sign).
	stackPairs = 40
	smallPairs = 16
)

// Verify, the hot path, declares the arrays of its message itself: arrays
// declared in a helper, or stored through a pointer to the message, would
// escape to the heap. The other entry points take newMessage's.

// Sign returns the upper-case hex sign of params under key. Every sign
// parameter in params (any letter case, any number of values) is ignored.
// Any other name given more than once is ErrMalformed: the gateway would
// read only one of the values, and guessing which one is how signatures get
// bypassed.
func Sign(params url.Values, key string, alg Algorithm) (string, error) {
	m := newMessage(len(params))
	if _, err := m.fromValues(params, false); err != nil {
		return "", err
	}
	return m.sign(key, alg)
}

// SignMap is Sign for a map, as decoded from a JSON response whose members
// are all strings.
func SignMap(params map[string]string, key string, alg Algorithm) (string, error) {
	m := newMessage(len(params))
	if _, err := m.fromMap(params, false); err != nil {
		return "", err
	}
	return m.sign(key, alg)
}

// Verify checks the sign carried in params against each key in turn (more
// than one key lets a merchant rotate keys without dropping notifications).
// The sign may be in either letter case; the comparison is constant-time.
// It returns nil, ErrMissingSign, ErrBadSign, ErrMalformed, ErrNoKey or
// ErrUnknownAlgorithm.
func Verify(params url.Values, alg Algorithm, keys ...string) error {
	_, err := VerifyIndex(params, alg, keys...)
	return err
}

// VerifyIndex is Verify that also says which key verified: its index in
// keys, or -1 with the error. A caller whose keys belong to different
// parties (a merchant's keys and the agent key) learns from it who signed.
func VerifyIndex(params url.Values, alg Algorithm, keys ...string) (int, error) {
	var m message
	switch n := len(params); {
	case n <= smallPairs:
		var a smallArrays
		m.keys, m.pairs = a.keys[:], a.pairs[:]
	case n <= stackPairs:
		var a stackArrays
		m.keys, m.pairs = a.keys[:], a.pairs[:]
	default:
		m.keys, m.pairs = make([]sortKey, n), make([]pair, n)
	}
	got, err := m.fromValues(params, true)
	if err != nil {
		return -1, err
	}
	return m.verify(got, alg, keys)
}

// VerifyMap is Verify for a map.
func VerifyMap(params map[string]string, alg Algorithm, keys ...string) error {
	m := newMessage(len(params))
	got, err := m.fromMap(params, true)
	if err != nil {
		return err
	}
	_, err = m.verify(got, alg, keys)
	return err
}

// StringToSign returns the exact string that is hashed: the canonical
// parameters followed by "&key=" and key. It is meant for debugging (pass a
// placeholder key to keep the real one off screens and logs).
func StringToSign(params url.Values, key string) (string, error) {
	m := newMessage(len(params))
	if _, err := m.fromValues(params, false); err != nil {
		return "", err
	}
	return string(appendKey(m.appendCanonical(nil, len(key)), key)), nil
}

// newMessage returns a message with room for n parameters on the heap.
func newMessage(n int) message {
	return message{keys: make([]sortKey, n), pairs: make([]pair, n)}
}

// message is the signed pairs of one message, gathered in a single pass
// over the parameters together with everything the canonical string needs:
// each pair's sort key and the string's length. keys and pairs have room
// for every parameter (len(params) bounds the pairs), so collecting never
// grows them.
type message struct {
	keys  []sortKey // keys[:n] are the sort keys of pairs[:n]
	pairs []pair
	n     int
	// size is the length of "&k=v" over all pairs: the canonical string
	// with the leading '&' that appendCanonical drops.
	size int
	// sorted says keys[:n] are already in order of prefix, and ties that
	// two of them share one.
	sorted, ties bool
}

type smallArrays struct {
	keys  [smallPairs]sortKey
	pairs [smallPairs]pair
}

type stackArrays struct {
	keys  [stackPairs]sortKey
	pairs [stackPairs]pair
}

// add records one signed pair. Computing the sort key here, while the
// name is already loaded, saves a second pass over the pairs; see
// fromValues, which does the same in its loop.
func (m *message) add(k, v string) {
	m.size += len(k) + len(v) + 2
	e := sortKey{foldPrefix(k), m.n}
	m.pairs[m.n] = pair{k, v}
	if len(m.keys) <= stackPairs {
		m.ties = insertKey(m.keys, m.n, e) || m.ties
	} else {
		m.keys[m.n] = e
	}
	m.n++
}

func (m *message) sign(key string, alg Algorithm) (string, error) {
	size := alg.size()
	if size == 0 {
		return "", fmt.Errorf("%w: %q", ErrUnknownAlgorithm, string(alg))
	}
	if key == "" {
		return "", ErrNoKey
	}
	var msg []byte
	if m.bufLen(len(key)) <= smallBuf {
		var buf [smallBuf]byte
		msg = m.appendCanonical(buf[:0], len(key))
	} else {
		var buf [stackBuf]byte
		msg = m.appendCanonical(buf[:0], len(key))
	}
	msg = appendKey(msg, key)
	sum := alg.digest(msg, key)
	return upperHex(sum[:size]), nil
}

func (m *message) verify(got string, alg Algorithm, keys []string) (int, error) {
	size := alg.size()
	if size == 0 {
		return -1, fmt.Errorf("%w: %q", ErrUnknownAlgorithm, string(alg))
	}
	if got == "" {
		return -1, ErrMissingSign
	}
	longest := 0
	for _, k := range keys {
		longest = max(longest, len(k))
	}
	if longest == 0 {
		return -1, ErrNoKey
	}
	if len(got) != 2*size {
		return -1, ErrBadSign
	}
	var msg []byte
	if m.bufLen(longest) <= smallBuf {
		var buf [smallBuf]byte
		msg = m.appendCanonical(buf[:0], longest)
	} else {
		var buf [stackBuf]byte
		msg = m.appendCanonical(buf[:0], longest)
	}
	prefix := len(msg)
	for i, k := range keys {
		if k == "" {
			continue
		}
		msg = appendKey(msg[:prefix], k)
		sum := alg.digest(msg, k)
		if equalHexFold(sum[:size], got) {
			return i, nil
		}
	}
	return -1, ErrBadSign
}

// fromValues collects the signed pairs and, when verifying, returns the
// received sign. Signing ignores every sign-like name; verifying accepts
// exactly one, because two (sign and SIGN, or sign=A&sign=B) are ambiguous.
func (m *message) fromValues(params url.Values, verifying bool) (string, error) {
	var got string
	seenSign := false
	// Locals rather than fields of m in the loop: stores through m would
	// make the compiler reload them on every pair.
	keys, pairs, n, size := m.keys, m.pairs, 0, 0
	online, ties := len(keys) <= stackPairs, false
	for k, vs := range params {
		if len(vs) != 1 || isSignName(k) {
			// Rare: a sign, a repeated name or a name without a value.
			if isSignName(k) {
				if !verifying {
					continue
				}
				if seenSign || len(vs) > 1 {
					return "", fmt.Errorf("%w: more than one sign parameter", ErrMalformed)
				}
				if len(vs) == 1 {
					seenSign, got = true, vs[0]
				}
				continue
			}
			if len(vs) > 1 {
				return "", fmt.Errorf("%w: %q given %d times", ErrMalformed, k, len(vs))
			}
			continue
		}
		v := vs[0]
		if k == "" || isBlank(v) {
			continue
		}
		size += len(k) + len(v) + 2
		e := sortKey{foldPrefix(k), n}
		pairs[n] = pair{k, v}
		// Sorting as the pairs arrive measured faster than sorting after
		// the loop (the work overlaps the waits for the map's memory).
		if online {
			ties = insertKey(keys, n, e) || ties
		} else {
			keys[n] = e
		}
		n++
	}
	m.n, m.size, m.sorted, m.ties = n, size, online, ties
	return got, nil
}

func (m *message) fromMap(params map[string]string, verifying bool) (string, error) {
	var got string
	seenSign := false
	m.sorted = len(m.keys) <= stackPairs
	for k, v := range params {
		if isSignName(k) {
			if !verifying {
				continue
			}
			if seenSign {
				return "", fmt.Errorf("%w: more than one sign parameter", ErrMalformed)
			}
			seenSign, got = true, v
			continue
		}
		if k == "" || isBlank(v) {
			continue
		}
		m.add(k, v)
	}
	return got, nil
}

// isSignName reports whether k is "sign" in any letter case. For four
// bytes that is an ASCII case-insensitive match: the only non-ASCII
// character that strings.EqualFold folds to one of these letters, U+017F
// (long s), takes two bytes. Each k|0x20 below equals the lower-case letter
// only for that letter and its capital.
func isSignName(k string) bool {
	return len(k) == len(Param) &&
		k[0]|0x20 == 's' && k[1]|0x20 == 'i' && k[2]|0x20 == 'g' && k[3]|0x20 == 'n'
}

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

// bufLen is the buffer appendCanonical needs for a key of keyLen bytes.
func (m *message) bufLen(keyLen int) int {
	// One byte more than the string: see appendCanonical.
	return m.size + len("&key=") + keyLen + 1
}

// appendCanonical writes "k=v&k=v" for the pairs in canonical order,
// leaving room for "&key=" and a key of keyLen bytes so the key append does
// not reallocate. buf must be empty.
func (m *message) appendCanonical(buf []byte, keyLen int) []byte {
	if n := m.bufLen(keyLen); cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	if m.n == 0 {
		return buf
	}
	keys, pairs := m.keys[:m.n], m.pairs[:m.n]
	switch {
	case !m.sorted:
		sortKeys(keys, pairs)
	case m.ties:
		sortTieRuns(keys, pairs)
	}
	// Every pair is written as "&k=v" with copy into a slice of the final
	// length, which skips append's capacity checks and a branch for the
	// first pair; the result starts after the first pair's '&'.
	out := buf[:m.size]
	off := 0
	for _, key := range keys {
		p := &pairs[key.i]
		out[off] = '&'
		off++
		off += copy(out[off:], p.k)
		out[off] = '='
		off++
		off += copy(out[off:], p.v)
	}
	return out[1:]
}

func appendKey(buf []byte, key string) []byte {
	buf = append(buf, "&key="...)
	return append(buf, key...)
}

// sortKey places one pair in canonical order: the lower-cased first eight
// bytes of its name, and its index.
type sortKey struct {
	prefix uint64
	i      int
}

// sortedOrder appends the sort keys of pairs to dst and puts them in
// canonical order, as a message does with the pairs it collects.
func sortedOrder(dst []sortKey, pairs []pair) []sortKey {
	for i := range pairs {
		dst = append(dst, sortKey{foldPrefix(pairs[i].k), i})
	}
	sortKeys(dst, pairs)
	return dst
}

// sortKeys puts in canonical order the sort keys of pairs. Comparing the
// folded prefixes as integers decides nearly every comparison, with no
// pointers moved; each run of names that share an eight-byte prefix is then
// put right with the full rule.
//
// The order is the lower-case fold first and the bytes as the tie-break,
// as docs/protocol.md section 2.1 step 4 prescribes. Folding to upper case would
// misplace '_' (0x5F) against letters.
func sortKeys(keys []sortKey, pairs []pair) {
	if len(keys) > stackPairs {
		// Insertion sort is quadratic; a hostile message may be long.
		slices.SortFunc(keys, func(a, b sortKey) int {
			switch {
			case a.prefix != b.prefix:
				return cmp.Compare(a.prefix, b.prefix)
			case lessName(pairs[a.i].k, pairs[b.i].k):
				return -1
			case lessName(pairs[b.i].k, pairs[a.i].k):
				return 1
			}
			return 0
		})
		return
	}
	ties := false
	for i := range keys {
		ties = insertKey(keys, i, keys[i]) || ties
	}
	if ties {
		sortTieRuns(keys, pairs)
	}
}

// insertKey inserts e into keys[:n], which are in order of prefix, and
// reports whether e shares its prefix with another key. Only the key
// before can share it: the one after is greater, or e went to the end.
// keys[n] must be free.
func insertKey(keys []sortKey, n int, e sortKey) bool {
	j := n
	for ; j > 0 && e.prefix < keys[j-1].prefix; j-- {
		keys[j] = keys[j-1]
	}
	keys[j] = e
	return j > 0 && keys[j-1].prefix == e.prefix
}

// sortTieRuns puts right each run of keys, in order of prefix, that share
// a prefix.
func sortTieRuns(keys []sortKey, pairs []pair) {
	for i := 1; i < len(keys); {
		if keys[i].prefix != keys[i-1].prefix {
			i++
			continue
		}
		start, end := i-1, i+1
		for end < len(keys) && keys[end].prefix == keys[start].prefix {
			end++
		}
		sortTies(keys[start:end], pairs)
		i = end
	}
}

// sortTies orders keys with one shared prefix by their full names.
func sortTies(keys []sortKey, pairs []pair) {
	for i := 1; i < len(keys); i++ {
		e, j := keys[i], i
		for ; j > 0 && lessName(pairs[e.i].k, pairs[keys[j-1].i].k); j-- {
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
