package middleware_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/middleware"
)

// A host that writes its own notification handler mounts it behind
// VerifyNotification and reads the verified notification from the context.
func ExampleVerifyNotification() {
	verify, err := middleware.VerifyNotification(middleware.VerifyConfig{
		// Only known merchants get keys: mch_id is read before verification.
		Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{
			"00000001": "0123456789abcdef0123456789abcdef",
		})},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	notify := verify(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := middleware.NotificationFromContext(r.Context())
		fmt.Println("verified:", n.OutTradeNo, n.TotalFee, n.Paid())
		// Settle the order in the store here, then reply "success".
		io.WriteString(w, "success")
	}))
	mux := http.NewServeMux()
	mux.Handle("POST /pay/notify", notify)

	// The protocol's worked example of a WeChat notification.
	body := "bank_type=CFT&mch_id=00000001&nonce_str=1523929649387&out_trade_no=1497769914931" +
		"&out_transaction_id=4200000000000000000000000000&pay_result=0&result_code=SUCCESS" +
		"&state=SUCCESS&time_end=20180417094729&total_fee=4&trade_type=pay.weixin.native" +
		"&transaction_id=199520439266201804177199552446&sign=CAB6021507B842F2AB4678029B41E9B5"
	for _, b := range []string{body, strings.Replace(body, "total_fee=4", "total_fee=400", 1)} {
		r := httptest.NewRequest(http.MethodPost, "/pay/notify", strings.NewReader(b))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println("reply:", w.Body.String())
	}
	// Output:
	// verified: 1497769914931 4 true
	// reply: success
	// reply: fail
}

// The usual stack for a notification route: log every request, recover
// panics as "fail", accept only the gateway's networks, cap the body.
func ExampleAllowCIDRs() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	allow, err := middleware.AllowCIDRs(middleware.AllowConfig{
		CIDRs:     []string{"203.0.113.0/24"}, // the gateway's published egress
		ReplyFail: true,
		Logger:    quiet,
	})
	if err != nil {
		panic(err)
	}
	var notify http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "success")
	})
	notify = middleware.Logger(quiet)(
		middleware.Recover(middleware.RecoverConfig{Logger: quiet})(
			allow(middleware.BodyLimit(64 << 10)(notify))))

	for _, remote := range []string{"203.0.113.9:4000", "192.0.2.1:4000"} {
		r := httptest.NewRequest(http.MethodPost, "/pay/notify", nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		notify.ServeHTTP(w, r)
		fmt.Println(remote, w.Code, w.Body.String())
	}
	// Output:
	// 203.0.113.9:4000 200 success
	// 192.0.2.1:4000 403 fail
}

func ExampleRecover() {
	h := middleware.Recover(middleware.RecoverConfig{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("database driver bug")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/pay/notify", nil))
	fmt.Println(w.Code, w.Body.String())
	// Output: 500 fail
}
