package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// confirmFor is how long a refund's confirmation stays good: long enough
// to read the amount twice, short enough that an old one is not replayed
// into a refund nobody meant any more.
const confirmFor = 10 * time.Minute

// refundConfirmer issues and checks the confirmations of the back
// office's refunds. A refund goes out only with a confirmation the
// server issued for exactly that attempt and amount (POST
// /admin/refunds/preview), so a refund is always two deliberate steps:
// the clerk sees "refund ¥5.00 of ¥18.00 paid, ¥18.00 left" and then
// confirms it. The confirmation is an HMAC under a key derived from the
// admin token, so every instance that shares the token accepts the
// others' confirmations, and it names its own expiry.
type refundConfirmer struct {
	key []byte
	now func() time.Time
}

func newRefundConfirmer(adminToken string, now func() time.Time) *refundConfirmer {
	m := hmac.New(sha256.New, []byte(adminToken))
	m.Write([]byte("cypaykit demo: refund confirmation key"))
	return &refundConfirmer{key: m.Sum(nil), now: now}
}

// issue returns the confirmation of refunding amount fen of outTradeNo,
// and when it expires.
func (c *refundConfirmer) issue(outTradeNo string, amount int64) (string, time.Time) {
	exp := c.now().Add(confirmFor).Truncate(time.Second)
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + c.mac(outTradeNo, amount, e), exp
}

// check reports whether token confirms refunding amount fen of
// outTradeNo and has not expired.
func (c *refundConfirmer) check(token, outTradeNo string, amount int64) bool {
	e, sig, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || !c.now().Before(time.Unix(exp, 0)) {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(c.mac(outTradeNo, amount, e)))
}

func (c *refundConfirmer) mac(outTradeNo string, amount int64, exp string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("refund\x00" + outTradeNo + "\x00" + strconv.FormatInt(amount, 10) + "\x00" + exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
