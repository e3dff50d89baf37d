package sign

import "errors"

// Sentinel errors; test with errors.Is. Messages never carry keys or values.
var (
	// ErrMissingSign: the parameters carry no sign, or an empty one.
	ErrMissingSign = errors.New("sign: missing sign")
	// ErrBadSign: the sign does not match under any of the given keys.
	ErrBadSign = errors.New("sign: signature mismatch")
	// ErrMalformed: the parameters cannot be signed unambiguously, for
	// example a name given twice (a=1&a=2).
	ErrMalformed = errors.New("sign: malformed parameters")
	// ErrNoKey: no key, or only empty keys, were given.
	ErrNoKey = errors.New("sign: no key")
	// ErrUnknownAlgorithm: the algorithm is not one of this package's.
	ErrUnknownAlgorithm = errors.New("sign: unknown algorithm")
)
