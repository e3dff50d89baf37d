package gatewaytest

import (
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cypaykit/kit/model"
)

// The identifiers below only need to look like the gateway's and be
// unique within a run; math/rand/v2 is seeded randomly per process.

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomFrom(chars string, n int) string {
	var b strings.Builder
	b.Grow(n)
	for range n {
		b.WriteByte(chars[rand.IntN(len(chars))])
	}
	return b.String()
}

func digits(n int) string { return randomFrom("0123456789", n) }

func newNonce() string { return randomFrom(alnum, 32) }

// newTransactionID is a 30-digit platform number like the documents'
// 199520439266201804177199552446: a prefix, the date, random digits.
func newTransactionID(t time.Time) string {
	return "1995" + digits(8) + t.In(model.Beijing).Format("20060102") + digits(10)
}

// newOutTransactionID is the channel's order number: 4200… for WeChat,
// the date and digits for Alipay and e-CNY.
func newOutTransactionID(ch model.PayType, t time.Time) string {
	if ch == model.PayWeChat {
		return "4200" + digits(24)
	}
	return t.In(model.Beijing).Format("20060102") + digits(20)
}
