package model

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ErrText: a free-text field is not valid UTF-8, holds a control
// character, or is too long.
var ErrText = errors.New("model: invalid text")

// MaxText is the longest free text (a refund reason, say) the kit keeps,
// in bytes.
const MaxText = 256

// CheckText returns nil when s, the value of field, is text every store
// keeps exactly as given: valid UTF-8, no control characters (a NUL is an
// error in PostgreSQL and kept by MariaDB and SQLite) and at most max
// bytes. Otherwise it returns an error wrapping ErrText whose message
// names field and says what is wrong, without echoing s. Hosts check the
// same way before anything is stored, so every store answers alike.
func CheckText(field, s string, max int) error {
	switch {
	case len(s) > max:
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrText, field, max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrText, field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s holds a control character", ErrText, field)
		}
	}
	return nil
}
