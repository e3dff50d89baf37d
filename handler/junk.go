package handler

import (
	"unicode"
	"unicode/utf8"
)

// validOutTradeNo reports whether s has the shape of every out_trade_no
// the kit makes (OutTradeNo): 5–32 ASCII letters and digits. Anything
// else is junk to refuse before a store sees it: a NUL byte, for one, is
// an error in PostgreSQL, not a missing order.
func validOutTradeNo(s string) bool {
	return len(s) >= 5 && len(s) <= 32 && isAlnum(s)
}

// printable reports whether s is UTF-8 without control characters, the
// least a business id or buyer field must be before it reaches a store,
// a log line or the gateway.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// isAlnum reports whether s is ASCII letters and digits only.
func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
