package kitfiber3_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v3"

	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/middleware/kitfiber3"
)

// newFiber returns a Fiber app, and the base URL of the loopback
// listener that start serves it on, with Fiber's own server, for the
// test's lifetime.
func newFiber(tb testing.TB) (app *fiber.App, base string, start func()) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	app = fiber.New()
	return app, "http://" + ln.Addr().String(), func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true})
		}()
		tb.Cleanup(func() {
			_ = app.Shutdown()
			<-done
		})
	}
}

func TestMiddlewareVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		tamper      bool
		wantReached bool
		wantBody    string
	}{
		{"bad sign never reaches fiber", true, false, "fail"},
		{"good sign reaches fiber", false, true, "success"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reached, inner atomic.Bool
			var gotFee atomic.Int64
			app, base, start := newFiber(t)
			// A later Fiber middleware must not run either.
			after := func(c fiber.Ctx) error {
				inner.Store(true)
				return c.Next()
			}
			app.Post("/notify", kitfiber3.Middleware(handlertest.VerifyMiddleware(t)), after, func(c fiber.Ctx) error {
				reached.Store(true)
				n, ok := middleware.NotificationFromContext(c.Context())
				if !ok {
					t.Error("NotificationFromContext: not found in the Fiber handler's Context")
					return c.Status(http.StatusInternalServerError).SendString("fail")
				}
				gotFee.Store(n.TotalFee)
				return c.SendString("success")
			})
			start()
			status, body := handlertest.PostForm(t, base+"/notify", handlertest.Notification(t, tt.tamper))

			if got := reached.Load(); got != tt.wantReached {
				t.Errorf("Fiber handler reached: got %v, want %v", got, tt.wantReached)
			}
			if got := inner.Load(); got != tt.wantReached {
				t.Errorf("later Fiber middleware reached: got %v, want %v", got, tt.wantReached)
			}
			if body != tt.wantBody {
				t.Errorf("got reply %d %q, want %q", status, body, tt.wantBody)
			}
			if tt.wantReached && gotFee.Load() != handlertest.KitAmount {
				t.Errorf("got total_fee %d, want %d", gotFee.Load(), handlertest.KitAmount)
			}
		})
	}
}

// TestMiddlewareGroup: as group middleware, a rejection answers fail with
// the kit's status and nothing after it runs.
func TestMiddlewareGroup(t *testing.T) {
	t.Parallel()
	var reached atomic.Bool
	app, base, start := newFiber(t)
	g := app.Group("/pay", kitfiber3.Middleware(handlertest.VerifyMiddleware(t)))
	g.Post("/notify", func(c fiber.Ctx) error {
		reached.Store(true)
		return c.SendString("success")
	})
	start()
	status, body := handlertest.PostForm(t, base+"/pay/notify", handlertest.Notification(t, true))
	if reached.Load() {
		t.Error("the Fiber handler ran after the rejecting middleware")
	}
	if status != http.StatusUnauthorized || body != "fail" {
		t.Errorf("got %d %q, want 401 %q", status, body, "fail")
	}
}

// TestBodyByteForByte: bodies a form decoder would re-encode reach the kit
// unchanged, both through the verifying middleware (which answers fail
// if a byte changed) and in the kit handler.
func TestBodyByteForByte(t *testing.T) {
	t.Parallel()
	var capture handlertest.Capture
	app, base, start := newFiber(t)
	app.Post("/notify", kitfiber3.Middleware(handlertest.VerifyMiddleware(t)), kitfiber3.Handler(&capture))
	start()
	handlertest.CheckBodies(t, base+"/notify", &capture)
}

func TestHandlerPathValues(t *testing.T) {
	t.Parallel()
	kit := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.PathValue("shop")+"|"+r.PathValue("out_trade_no")+"|"+r.PathValue("missing"))
	})
	app, base, start := newFiber(t)
	app.Get("/shops/:shop/orders/:out_trade_no", kitfiber3.Handler(kit))
	app.Get("/orders/:out_trade_no", kitfiber3.Handler(kit))
	start()
	tests := []struct{ path, want string }{
		{"/orders/ORDER0001", "|ORDER0001|"},
		{"/shops/s1/orders/ABC12345", "s1|ABC12345|"},
		{"/shops/s%201/orders/ABC12345", "s 1|ABC12345|"},
		{"/shops/s1/orders/A%20B", "s1|A B|"},
		{"/shops/s%2F1/orders/A%2BB", "s/1|A+B|"},
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

// TestHandlerReply: the kit handler's status, headers and body reach the
// client, with net/http's rules for what comes after the first
// WriteHeader.
func TestHandlerReply(t *testing.T) {
	t.Parallel()
	app, base, start := newFiber(t)
	app.Get("/x", kitfiber3.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("X-Kit", "a")
		w.Header().Add("X-Kit", "b")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ok":`)
		io.WriteString(w, `true}`)
		w.Header().Set("X-Late", "ignored")           // after WriteHeader, as net/http
		w.WriteHeader(http.StatusInternalServerError) // superfluous, as net/http
	})))
	start()
	res, err := http.Get(base + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || string(b) != `{"ok":true}` {
		t.Errorf("got %d %q, want 201 %q", res.StatusCode, b, `{"ok":true}`)
	}
	if got := res.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", got)
	}
	if got := res.Header.Values("X-Kit"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("got X-Kit %q, want [a b]", got)
	}
	if got := res.Header.Get("X-Late"); got != "" {
		t.Errorf("a header set after WriteHeader was sent: %q", got)
	}
}

// TestMiddlewareWriterWrapping: a kit middleware that wraps the writer
// (the kit Logger) sees what later Fiber handlers answer.
func TestMiddlewareWriterWrapping(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	app, base, start := newFiber(t)
	app.Get("/orders/:out_trade_no", kitfiber3.Middleware(middleware.Logger(slog.New(slog.NewJSONHandler(&logs, nil)))),
		func(c fiber.Ctx) error {
			c.Set("X-Fiber", "kept")
			return c.Status(http.StatusTeapot).SendString("short and stout")
		})
	start()
	res, err := http.Get(base + "/orders/X1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTeapot || string(b) != "short and stout" || res.Header.Get("X-Fiber") != "kept" {
		t.Errorf("got %d %q (X-Fiber %q), want 418 %q (kept)", res.StatusCode, b, res.Header.Get("X-Fiber"), "short and stout")
	}
	var line struct {
		Status int   `json:"status"`
		Bytes  int64 `json:"bytes"`
	}
	if err := json.Unmarshal(logs.bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", logs.bytes(), err)
	}
	if line.Status != http.StatusTeapot || line.Bytes != int64(len("short and stout")) {
		t.Errorf("kit Logger saw status %d bytes %d, want 418 and %d", line.Status, line.Bytes, len("short and stout"))
	}
}

// TestMiddlewareRecover: a panic in a later Fiber handler reaches the kit
// Recover, which answers fail alone (what the handler wrote before
// panicking is dropped).
func TestMiddlewareRecover(t *testing.T) {
	t.Parallel()
	app, base, start := newFiber(t)
	app.Post("/notify", kitfiber3.Middleware(middleware.Recover(middleware.RecoverConfig{Logger: handlertest.Quiet()})),
		func(c fiber.Ctx) error {
			_ = c.SendString("success")
			panic("boom")
		})
	start()
	status, body := handlertest.PostForm(t, base+"/notify", "a=1")
	if status != http.StatusInternalServerError || body != "fail" {
		t.Errorf("got %d %q, want 500 %q", status, body, "fail")
	}
}

// TestMiddlewareBodyLimit: the kit BodyLimit rejects an oversized body
// before any Fiber handler runs.
func TestMiddlewareBodyLimit(t *testing.T) {
	t.Parallel()
	var reached atomic.Bool
	app, base, start := newFiber(t)
	app.Post("/notify", kitfiber3.Middleware(middleware.BodyLimit(16)), func(c fiber.Ctx) error {
		reached.Store(true)
		return c.SendString("success")
	})
	start()
	status, body := handlertest.PostForm(t, base+"/notify", "a=12345678901234567890")
	if status != http.StatusRequestEntityTooLarge || reached.Load() {
		t.Errorf("got %d %q (handler reached %v), want 413 and not reached", status, body, reached.Load())
	}
}

// lockedBuffer is a log sink the server and the test share: netpoll's
// socket I/O is invisible to the race detector, so the reply arriving
// does not order the server's write before the test's read.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
