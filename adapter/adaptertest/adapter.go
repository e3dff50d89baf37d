package adaptertest

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/sign"
)

// Quiet is a logger that discards everything, for tests.
func Quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Notification returns a WeChat-layout notification body for the Kit's
// merchant (out_trade_no ORDER0001, total_fee KitAmount, transaction
// T123), signed as the simulator signs it; tamper changes total_fee to 1
// after signing, so the sign no longer verifies.
func Notification(tb testing.TB, tamper bool) string {
	tb.Helper()
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{
		MchID: KitMchID, OutTradeNo: "ORDER0001", TotalFee: KitAmount, TransactionID: "T123",
	}, KitMchKey, sign.MD5)
	if err != nil {
		tb.Fatal(err)
	}
	if tamper {
		v.Set("total_fee", "1")
	}
	return v.Encode()
}

// VerifyMiddleware is middleware.VerifyNotification knowing the Kit's
// merchant only, for tests of adapters that run kit middleware.
func VerifyMiddleware(tb testing.TB) func(http.Handler) http.Handler {
	tb.Helper()
	mw, err := middleware.VerifyNotification(middleware.VerifyConfig{
		Keys:   client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{KitMchID: KitMchKey})},
		Logger: Quiet(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return mw
}

// PostForm posts a form body to u and returns the status and reply.
func PostForm(tb testing.TB, u, body string) (int, string) {
	tb.Helper()
	res, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return res.StatusCode, string(b)
}
