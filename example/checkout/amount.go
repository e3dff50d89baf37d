package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// maxAmountDigits bounds an amount's digits, far below int64's 19, so
// that parsing never overflows and no refund is larger than any payment.
const maxAmountDigits = 12

// errAmountFormat is any amount that is neither whole fen nor yuan with
// two decimals. Its text is what the clerk reads.
var errAmountFormat = errors.New("amount must be whole fen (1250) or yuan with two decimals (12.50)")

// parseFen reads an amount as a clerk types it: whole fen ("1250") or
// yuan with exactly two decimals ("12.50"), both meaning 1250 fen.
// Anything else is refused rather than guessed at: "12.5", "12,50",
// "1e3", "-1", "¥12" and "" all are errAmountFormat, so a typo can never
// become a different amount.
func parseFen(s string) (int64, error) {
	whole, cents, decimal := strings.Cut(s, ".")
	if whole == "" || len(whole) > maxAmountDigits || !allDigits(whole) {
		return 0, errAmountFormat
	}
	if decimal && (len(cents) != 2 || !allDigits(cents)) {
		return 0, errAmountFormat
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, errAmountFormat
	}
	if !decimal {
		return n, nil
	}
	c, _ := strconv.ParseInt(cents, 10, 64)
	return n*100 + c, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatYuan shows fen as yuan with two decimals, the form parseFen
// reads back: 1250 is "12.50".
func formatYuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return sign + strconv.FormatInt(fen/100, 10) + "." + strconv.FormatInt(100+fen%100, 10)[1:]
}

// fenAmount is the refund routes' amount: a JSON integer of fen, as the
// API always took, or a string parseFen reads (what the page's amount
// field sends). A JSON number with a fraction or exponent is refused.
type fenAmount int64

func (a *fenAmount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return errAmountFormat
		}
		n, err := parseFen(s)
		if err != nil {
			return err
		}
		*a = fenAmount(n)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		return errAmountFormat
	}
	// A bare number: whole fen only. A leading minus is kept so that the
	// Refunder refuses it as an amount out of range, as it always did.
	digits := b
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > maxAmountDigits || !allDigits(string(digits)) {
		return errAmountFormat
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return errAmountFormat
	}
	*a = fenAmount(n)
	return nil
}
