package kitgin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/middleware/kitgin"
)

func init() { gin.SetMode(gin.TestMode) }

// serve runs e on a real HTTP server for the test's lifetime.
func serve(tb testing.TB, e *gin.Engine) string {
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
		{"bad sign never reaches gin", true, false, "fail"},
		{"good sign reaches gin", false, true, "success"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reached, afterward atomic.Bool
			var gotFee atomic.Int64
			e := gin.New()
			e.POST("/notify", kitgin.Middleware(handlertest.VerifyMiddleware(t)), func(c *gin.Context) {
				reached.Store(true)
				n, ok := middleware.NotificationFromContext(c.Request.Context())
				if !ok {
					t.Error("NotificationFromContext: not found in the gin handler")
					c.String(http.StatusInternalServerError, "fail")
					return
				}
				gotFee.Store(n.TotalFee)
				c.String(http.StatusOK, "success")
			}, func(c *gin.Context) { afterward.Store(true) })
			status, body := handlertest.PostForm(t, serve(t, e)+"/notify", handlertest.Notification(t, tt.tamper))

			if got := reached.Load(); got != tt.wantReached {
				t.Errorf("gin handler reached: got %v, want %v", got, tt.wantReached)
			}
			if got := afterward.Load(); got != tt.wantReached {
				t.Errorf("last gin handler reached: got %v, want %v", got, tt.wantReached)
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

// TestMiddlewareAbortsOuterChain: a rejection also stops gin handlers
// registered after the wrapped middleware at group level.
func TestMiddlewareAbortsGroupChain(t *testing.T) {
	t.Parallel()
	var reached atomic.Bool
	e := gin.New()
	g := e.Group("/pay", kitgin.Middleware(handlertest.VerifyMiddleware(t)), func(c *gin.Context) { reached.Store(true) })
	g.POST("/notify", func(c *gin.Context) { reached.Store(true) })
	status, body := handlertest.PostForm(t, serve(t, e)+"/pay/notify", handlertest.Notification(t, true))
	if reached.Load() {
		t.Error("a gin handler after the rejecting middleware ran")
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
	e := gin.New()
	e.GET("/shops/:shop/orders/:out_trade_no", kitgin.Handler(kit))
	e.GET("/orders/:out_trade_no", kitgin.Handler(kit))
	base := serve(t, e)
	tests := []struct{ path, want string }{
		{"/orders/ORDER0001", "|ORDER0001|"},
		{"/shops/s1/orders/ABC12345", "s1|ABC12345|"},
		{"/shops/s%201/orders/ABC12345", "s 1|ABC12345|"},
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
// (the kit Logger) sees what later gin handlers write.
func TestMiddlewareWriterWrapping(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	e := gin.New()
	e.GET("/orders/:out_trade_no",
		kitgin.Middleware(middleware.Logger(slog.New(slog.NewJSONHandler(&logs, nil)))),
		func(c *gin.Context) { c.String(http.StatusTeapot, "short and stout") })
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

// TestMiddlewareRecover: a panic in a later gin handler reaches the kit
// Recover, which answers fail.
func TestMiddlewareRecover(t *testing.T) {
	t.Parallel()
	e := gin.New()
	e.POST("/notify", kitgin.Middleware(middleware.Recover(middleware.RecoverConfig{Logger: handlertest.Quiet()})),
		func(c *gin.Context) { panic("boom") })
	status, body := handlertest.PostForm(t, serve(t, e)+"/notify", "a=1")
	if status != http.StatusInternalServerError || body != "fail" {
		t.Errorf("got %d %q, want 500 %q", status, body, "fail")
	}
}

// TestBodyByteForByte: bodies a form decoder would re-encode reach the kit
// unchanged, through the verifying middleware and in the kit handler.
func TestBodyByteForByte(t *testing.T) {
	t.Parallel()
	var capture handlertest.Capture
	e := gin.New()
	e.POST("/notify", kitgin.Middleware(handlertest.VerifyMiddleware(t)), kitgin.Handler(&capture))
	handlertest.CheckBodies(t, serve(t, e)+"/notify", &capture)
}
