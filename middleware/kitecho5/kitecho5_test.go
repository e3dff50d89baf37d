package kitecho5_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/middleware/kitecho5"
)

func newEcho() *echo.Echo {
	return echo.New()
}

// serve runs e on a real HTTP server for the test's lifetime.
func serve(tb testing.TB, e *echo.Echo) string {
	tb.Helper()
	srv := httptest.NewServer(e)
	tb.Cleanup(srv.Close)
	return srv.URL
}

func TestMiddlewareVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		tamper      bool
		wantReached bool
		wantBody    string
	}{
		{"bad sign never reaches echo", true, false, "fail"},
		{"good sign reaches echo", false, true, "success"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reached, inner atomic.Bool
			var gotFee atomic.Int64
			e := newEcho()
			// A later echo middleware must not run either.
			after := func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c *echo.Context) error {
					inner.Store(true)
					return next(c)
				}
			}
			e.POST("/notify", func(c *echo.Context) error {
				reached.Store(true)
				n, ok := middleware.NotificationFromContext(c.Request().Context())
				if !ok {
					t.Error("NotificationFromContext: not found in the echo handler")
					return c.String(http.StatusInternalServerError, "fail")
				}
				gotFee.Store(n.TotalFee)
				return c.String(http.StatusOK, "success")
			}, kitecho5.Middleware(handlertest.VerifyMiddleware(t)), after)
			status, body := handlertest.PostForm(t, serve(t, e)+"/notify", handlertest.Notification(t, tt.tamper))

			if got := reached.Load(); got != tt.wantReached {
				t.Errorf("echo handler reached: got %v, want %v", got, tt.wantReached)
			}
			if got := inner.Load(); got != tt.wantReached {
				t.Errorf("later echo middleware reached: got %v, want %v", got, tt.wantReached)
			}
			if body != tt.wantBody {
				t.Errorf("got reply %d %q, want %q", status, body, tt.wantBody)
			}
			if tt.wantReached && gotFee.Load() != 1999 {
				t.Errorf("got total_fee %d, want 1999", gotFee.Load())
			}
		})
	}
}

// TestMiddlewareGroup: as group middleware, a rejection answers fail with
// the kit's status and nothing after it runs.
func TestMiddlewareGroup(t *testing.T) {
	t.Parallel()
	var reached atomic.Bool
	e := newEcho()
	g := e.Group("/pay", kitecho5.Middleware(handlertest.VerifyMiddleware(t)))
	g.POST("/notify", func(c *echo.Context) error {
		reached.Store(true)
		return c.String(http.StatusOK, "success")
	})
	status, body := handlertest.PostForm(t, serve(t, e)+"/pay/notify", handlertest.Notification(t, true))
	if reached.Load() {
		t.Error("the echo handler ran after the rejecting middleware")
	}
	if status != http.StatusUnauthorized || body != "fail" {
		t.Errorf("got %d %q, want 401 %q", status, body, "fail")
	}
}

func TestHandlerPathValues(t *testing.T) {
	t.Parallel()
	kit := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.PathValue("shop")+"|"+r.PathValue("out_trade_no")+"|"+r.PathValue("missing"))
	})
	e := newEcho()
	e.GET("/shops/:shop/orders/:out_trade_no", kitecho5.Handler(kit))
	e.GET("/orders/:out_trade_no", kitecho5.Handler(kit))
	base := serve(t, e)
	tests := []struct{ path, want string }{
		{"/orders/ORDER0001", "|ORDER0001|"},
		{"/shops/s1/orders/ABC12345", "s1|ABC12345|"},
		{"/shops/s%201/orders/ABC12345", "s 1|ABC12345|"},
		{"/shops/s%2F1/orders/A%20B", "s/1|A B|"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := http.Get(base + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if string(b) != tt.want {
				t.Errorf("kit handler saw %q, want %q", b, tt.want)
			}
		})
	}
}

// TestMiddlewareWriterWrapping: a kit middleware that wraps the writer
// (the kit Logger) sees what later echo handlers write.
func TestMiddlewareWriterWrapping(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	e := newEcho()
	e.GET("/orders/:out_trade_no", func(c *echo.Context) error {
		return c.String(http.StatusTeapot, "short and stout")
	}, kitecho5.Middleware(middleware.Logger(slog.New(slog.NewJSONHandler(&logs, nil)))))
	res, err := http.Get(serve(t, e) + "/orders/X1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTeapot || string(b) != "short and stout" {
		t.Errorf("got %d %q, want 418 %q", res.StatusCode, b, "short and stout")
	}
	var line struct {
		Status int   `json:"status"`
		Bytes  int64 `json:"bytes"`
	}
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	if line.Status != http.StatusTeapot || line.Bytes != int64(len("short and stout")) {
		t.Errorf("kit Logger saw status %d bytes %d, want 418 and %d", line.Status, line.Bytes, len("short and stout"))
	}
}

// TestMiddlewareRecover: a panic in a later echo handler reaches the kit
// Recover, which answers fail.
func TestMiddlewareRecover(t *testing.T) {
	t.Parallel()
	e := newEcho()
	e.POST("/notify", func(c *echo.Context) error { panic("boom") },
		kitecho5.Middleware(middleware.Recover(middleware.RecoverConfig{Logger: handlertest.Quiet()})))
	status, body := handlertest.PostForm(t, serve(t, e)+"/notify", "a=1")
	if status != http.StatusInternalServerError || body != "fail" {
		t.Errorf("got %d %q, want 500 %q", status, body, "fail")
	}
}

// TestMiddlewareReturnsEchoError: an error from a later echo handler still
// reaches echo's error handler.
func TestMiddlewareReturnsEchoError(t *testing.T) {
	t.Parallel()
	e := newEcho()
	e.GET("/x", func(c *echo.Context) error { return echo.NewHTTPError(http.StatusConflict, "taken") },
		kitecho5.Middleware(middleware.BodyLimit(1024)))
	res, err := http.Get(serve(t, e) + "/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusConflict {
		t.Errorf("got status %d, want 409", res.StatusCode)
	}
}

// TestBodyByteForByte: bodies a form decoder would re-encode reach the kit
// unchanged, through the verifying middleware and in the kit handler.
func TestBodyByteForByte(t *testing.T) {
	t.Parallel()
	var capture handlertest.Capture
	e := newEcho()
	e.POST("/notify", kitecho5.Handler(&capture), kitecho5.Middleware(handlertest.VerifyMiddleware(t)))
	handlertest.CheckBodies(t, serve(t, e)+"/notify", &capture)
}
