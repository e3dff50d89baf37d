package middleware_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/sign"
)

// BenchmarkVerifyNotification compares a notification through
// VerifyNotification with a bare handler that only reads and parses the
// same body (the baseline any handler pays), so the ratio is the cost of
// verification and decoding.
func BenchmarkVerifyNotification(b *testing.B) {
	body := signed(b, notifyValues(), testKey, sign.MD5)
	verify, err := middleware.VerifyNotification(middleware.VerifyConfig{
		Keys:   staticKeys(testKey),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "success") })
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, middleware.DefaultMaxBody))
		if _, err := url.ParseQuery(string(raw)); err != nil {
			b.Fatal(err)
		}
		io.WriteString(w, "success")
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", bare},
		{"verify", verify(ok)},
		{"stack", middleware.Logger(slog.New(slog.NewTextHandler(io.Discard, nil)))(
			middleware.Recover(middleware.RecoverConfig{})(middleware.BodyLimit(64 << 10)(verify(ok))))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r := httptest.NewRequest(http.MethodPost, "/pay/notify", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				w := httptest.NewRecorder()
				bc.h.ServeHTTP(w, r)
				if w.Body.String() != "success" {
					b.Fatalf("got %q", w.Body.String())
				}
			}
		})
	}
}
