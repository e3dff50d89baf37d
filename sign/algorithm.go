package sign

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"strings"
)

// Algorithm names a digest the gateway accepts. It is configuration: it is
// never read from a payload, because no gateway field selects it and letting
// the sender choose would let a forger pick the weakest one.
type Algorithm string

// The algorithms of the gateway's rules table. MD5 is the gateway's default
// and the only one its documents define completely.
const (
	MD5    Algorithm = "MD5"
	SHA1   Algorithm = "SHA1"
	SHA256 Algorithm = "SHA256"
	// HMACSHA256 keys HMAC-SHA256 with the key over the same string (which
	// still ends in "&key=KEY"). This is the WeChat Pay v2 convention; no
	// UnifiedPay document defines HMAC, so it is unconfirmed for this gateway.
	HMACSHA256 Algorithm = "HMAC-SHA256"
)

// ParseAlgorithm reads an algorithm name in any letter case. The empty string
// means MD5, the gateway's default.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "MD5":
		return MD5, nil
	case "SHA1", "SHA-1":
		return SHA1, nil
	case "SHA256", "SHA-256":
		return SHA256, nil
	case "HMAC-SHA256", "HMACSHA256", "HMAC_SHA256", "HMAC":
		return HMACSHA256, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownAlgorithm, s)
}

// orDefault maps the zero Algorithm to MD5 so that a zero config works.
func (a Algorithm) orDefault() Algorithm {
	if a == "" {
		return MD5
	}
	return a
}

// size is the digest length in bytes, or 0 for an unknown algorithm.
func (a Algorithm) size() int {
	switch a.orDefault() {
	case MD5:
		return md5.Size
	case SHA1:
		return sha1.Size
	case SHA256, HMACSHA256:
		return sha256.Size
	}
	return 0
}

// digest hashes msg; the first a.size() bytes of the result are the sum.
// msg already ends in "&key=KEY"; HMAC also takes the key separately. It
// returns by value and never keeps msg, so callers' buffers stay on the
// stack.
func (a Algorithm) digest(msg []byte, key string) (out [maxSize]byte) {
	switch a.orDefault() {
	case MD5:
		s := md5.Sum(msg)
		copy(out[:], s[:])
	case SHA1:
		s := sha1.Sum(msg)
		copy(out[:], s[:])
	case SHA256:
		out = sha256.Sum256(msg)
	case HMACSHA256:
		m := hmac.New(sha256.New, []byte(key))
		// Writing through the hash.Hash interface would make msg escape;
		// HMAC allocates anyway, so hand it a copy.
		m.Write(bytes.Clone(msg))
		copy(out[:], m.Sum(nil))
	}
	return out
}
