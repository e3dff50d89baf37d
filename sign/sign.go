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

// stackPairs covers every documented message (the largest has about 25
// fields) without a heap allocation for the sort.
const stackPairs = 40

// Sign returns the upper-case hex sign of params under key. Any sign
// parameter in params is ignored. A name given more than once is
// ErrMalformed: the gateway would read only one of the values, and guessing
// which one is how signatures get bypassed.
func Sign(params url.Values, key string, alg Algorithm) (string, error) {
	var arr [stackPairs]pair
	pairs, _, err := fromValues(arr[:0], params)
	if err != nil {
		return "", err
	}
	return signPairs(pairs, key, alg)
}

// SignMap is Sign for a map, as decoded from a JSON response whose members
// are all strings.
func SignMap(params map[string]string, key string, alg Algorithm) (string, error) {
	var arr [stackPairs]pair
	pairs, _, err := fromMap(arr[:0], params)
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
	pairs, got, err := fromValues(arr[:0], params)
	if err != nil {
		return err
	}
	return verifyPairs(pairs, got, alg, keys)
}

// VerifyMap is Verify for a map.
func VerifyMap(params map[string]string, alg Algorithm, keys ...string) error {
	var arr [stackPairs]pair
	pairs, got, err := fromMap(arr[:0], params)
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
	pairs, _, err := fromValues(arr[:0], params)
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
	sortPairs(pairs)
	msg := appendKey(appendCanonical(nil, pairs, len(key)), key)
	var sum [maxSize]byte
	alg.digest(sum[:size], msg, key)
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
	sortPairs(pairs)
	msg := appendCanonical(nil, pairs, longest)
	prefix := len(msg)
	var sum [maxSize]byte
	for _, k := range keys {
		if k == "" {
			continue
		}
		msg = appendKey(msg[:prefix], k)
		alg.digest(sum[:size], msg, k)
		if subtle.ConstantTimeCompare(sum[:size], want[:size]) == 1 {
			return nil
		}
	}
	return ErrBadSign
}

// fromValues collects the signed pairs and the received sign. Only the
// first sign-like name is accepted: two (sign and SIGN) are ambiguous.
func fromValues(dst []pair, params url.Values) ([]pair, string, error) {
	var got string
	seenSign := false
	for k, vs := range params {
		if len(vs) > 1 {
			return nil, "", fmt.Errorf("%w: %q given %d times", ErrMalformed, k, len(vs))
		}
		if len(vs) == 0 {
			continue
		}
		if isSignName(k) {
			if seenSign {
				return nil, "", fmt.Errorf("%w: more than one sign parameter", ErrMalformed)
			}
			seenSign, got = true, vs[0]
			continue
		}
		if k == "" || isBlank(vs[0]) {
			continue
		}
		dst = append(dst, pair{k, vs[0]})
	}
	return dst, got, nil
}

func fromMap(dst []pair, params map[string]string) ([]pair, string, error) {
	var got string
	seenSign := false
	for k, v := range params {
		if isSignName(k) {
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
func isBlank(v string) bool {
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

// appendCanonical writes "k=v&k=v" for the sorted pairs, leaving room for
// "&key=" and a key of keyLen bytes so the key append does not reallocate.
func appendCanonical(buf []byte, pairs []pair, keyLen int) []byte {
	n := len("&key=") + keyLen
	for _, p := range pairs {
		n += len(p.k) + len(p.v) + 2
	}
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	for i, p := range pairs {
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

// sortPairs orders names case-insensitively, the lower-case fold first and
// the bytes as the tie-break, as PROTOCOL.md section 2.1 step 4 prescribes.
// Folding to upper case would misplace '_' (0x5F) against letters.
func sortPairs(p []pair) {
	if len(p) <= 16 {
		for i := 1; i < len(p); i++ {
			for j := i; j > 0 && lessName(p[j].k, p[j-1].k); j-- {
				p[j], p[j-1] = p[j-1], p[j]
			}
		}
		return
	}
	slices.SortFunc(p, func(a, b pair) int {
		if lessName(a.k, b.k) {
			return -1
		}
		if lessName(b.k, a.k) {
			return 1
		}
		return 0
	})
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
