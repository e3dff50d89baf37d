package handlertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cypaykit/kit/middleware"
)

// ServeFunc is what a framework adapter's test gives RunAdapterTests: it
// mounts routes on the framework's own router, with the adapter's
// Middleware for every kit middleware and the adapter's Handler for every
// kit handler, serves them with the framework's own server on a loopback
// port for the rest of t, and returns the base URL ("http://host:port").
type ServeFunc func(t *testing.T, routes AdapterRoutes) (baseURL string)

// AdapterRoutes is what one subtest mounts, as groups of routes.
type AdapterRoutes []RouteGroup

// RouteGroup is a router group: its Middleware runs, in order, before
// that of every route in it, as the framework's group middleware.
type RouteGroup struct {
	// Prefix is the group's path prefix; "" mounts the routes at the root
	// (Middleware is then empty).
	Prefix string
	// Middleware is kit middleware mounted at group level with the
	// adapter's Middleware; nil means none.
	Middleware []func(http.Handler) http.Handler
	// Routes are mounted under Prefix.
	Routes []Route
}

// Route is one route: kit middleware, then an optional native pass-through
// middleware, then either a kit handler or a native handler.
type Route struct {
	// Method is the HTTP method ("GET", "POST").
	Method string
	// Path is in net/http's pattern syntax, "/orders/{out_trade_no}";
	// ColonPath converts it for routers that spell it ":out_trade_no".
	Path string
	// Middleware is kit middleware mounted on the route, in order, with
	// the adapter's Middleware; nil means none.
	Middleware []func(http.Handler) http.Handler
	// Through, if not nil, is mounted after Middleware as a middleware of
	// the framework's own kind that calls Through with the context the
	// framework gives its handlers and then continues the chain. It shows
	// whether the chain went on past the kit middleware.
	Through func(ctx context.Context)
	// Handler, if not nil, is a kit handler mounted with the adapter's
	// Handler, and Native is nil.
	Handler http.Handler
	// Native, if Handler is nil, is mounted as a handler of the
	// framework's own kind: see Native.
	Native Native
}

// Native describes a handler the adapter's test writes in the
// framework's own kind. The handler calls it with the context the
// framework gives its handlers (gin's c.Request.Context(), Fiber's
// c.UserContext(), Hertz's ctx), so values kit middleware put there are
// seen as a framework user sees them, then answers with the Reply: sets
// its Header, and, when Status is not 0, writes Status and Body with the
// framework's own reply methods; then, if Panic, panics.
type Native func(ctx context.Context) Reply

// Reply is what a Native handler answers.
type Reply struct {
	// Status is the status to write; 0 writes nothing.
	Status int
	// Body is written after Status.
	Body string
	// Header is set on the reply before it is written; nil sets nothing.
	Header http.Header
	// Panic makes the handler panic once it has answered.
	Panic bool
}

// ColonPath spells a net/http pattern path ("/orders/{out_trade_no}")
// as gin, echo, Fiber and Hertz do ("/orders/:out_trade_no").
func ColonPath(p string) string {
	return strings.NewReplacer("{", ":", "}", "").Replace(p)
}

// RunAdapterTests runs the conformance suite for a framework adapter's
// Handler and Middleware over real HTTP, each subtest in parallel on
// routes serve mounts for it: path values reach a kit handler, a kit
// handler's reply reaches the client, a verifying kit middleware lets a
// good notification through to later framework handlers (with the
// notification in their context) and stops a bad one before any of them,
// at route and at group level, a kit middleware that wraps the writer sees
// what later framework handlers answer, the kit Recover and BodyLimit work
// around framework handlers, notification bodies reach the kit byte for
// byte, a request with two Content-Type headers is refused (415) as
// net/http refuses it, and a whole payment goes through
// (Kit.CheckPayment).
func RunAdapterTests(t *testing.T, serve ServeFunc) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, ServeFunc)
	}{
		{"HandlerPathValues", testHandlerPathValues},
		{"HandlerReply", testHandlerReply},
		{"MiddlewareVerifyGoodSign", func(t *testing.T, serve ServeFunc) { testMiddlewareVerify(t, serve, false) }},
		{"MiddlewareVerifyBadSign", func(t *testing.T, serve ServeFunc) { testMiddlewareVerify(t, serve, true) }},
		{"MiddlewareGroupAborts", testMiddlewareGroupAborts},
		{"MiddlewareWriterWrapping", testMiddlewareWriterWrapping},
		{"MiddlewareRecover", testMiddlewareRecover},
		{"MiddlewareBodyLimit", testMiddlewareBodyLimit},
		{"BodyByteForByte", testBodyByteForByte},
		{"TwoContentTypes", testTwoContentTypes},
		{"GatewayEndToEnd", testGatewayEndToEnd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, serve)
		})
	}
}

// PathCase is a request path and what PathValueRoutes' kit handler
// answers for it: the values of "shop", "out_trade_no" and a parameter no
// route has, joined with "|".
type PathCase struct {
	// Path is the request path, escaped as sent.
	Path string
	// Want is the handler's reply: the three values joined with "|".
	Want string
}

// PathValueRoutes mounts, at GET /orders/{out_trade_no} and
// GET /shops/{shop}/orders/{out_trade_no}, a kit handler that answers its
// path values as CheckPathValues expects. An adapter's test uses it with
// CheckPathValues for escapes only its framework routes (an encoded
// slash, say).
func PathValueRoutes() AdapterRoutes {
	kit := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.PathValue("shop")+"|"+r.PathValue("out_trade_no")+"|"+r.PathValue("missing"))
	})
	return AdapterRoutes{{Routes: []Route{
		{Method: http.MethodGet, Path: "/shops/{shop}/orders/{out_trade_no}", Handler: kit},
		{Method: http.MethodGet, Path: "/orders/{out_trade_no}", Handler: kit},
	}}}
}

// CheckPathValues requests each case's path from base, which serves
// PathValueRoutes, and fails t unless the kit handler saw the values the
// case wants.
func CheckPathValues(t *testing.T, base string, cases []PathCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Path, func(t *testing.T) {
			t.Helper()
			status, got := get(t, base+tc.Path)
			if status != http.StatusOK || got != tc.Want {
				t.Errorf("kit handler saw %d %q, want 200 %q", status, got, tc.Want)
			}
		})
	}
}

func testHandlerPathValues(t *testing.T, serve ServeFunc) {
	CheckPathValues(t, serve(t, PathValueRoutes()), []PathCase{
		{"/orders/ORDER0001", "|ORDER0001|"},
		{"/shops/s1/orders/ABC12345", "s1|ABC12345|"},
		{"/shops/s%201/orders/ABC12345", "s 1|ABC12345|"},
		{"/shops/s1/orders/A%20B", "s1|A B|"},
	})
}

// testHandlerReply: the kit handler's status, headers and body reach the
// client, with net/http's rules for what comes after the first
// WriteHeader.
func testHandlerReply(t *testing.T, serve ServeFunc) {
	base := serve(t, AdapterRoutes{{Routes: []Route{{
		Method: http.MethodGet, Path: "/x",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Add("X-Kit", "a")
			w.Header().Add("X-Kit", "b")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"ok":`)
			io.WriteString(w, `true}`)
			w.Header().Set("X-Late", "ignored")           // after WriteHeader, as net/http
			w.WriteHeader(http.StatusInternalServerError) // superfluous, as net/http
		}),
	}}}})
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

// testMiddlewareVerify: the verifying kit middleware, mounted with the
// adapter, lets a good notification through to a later framework
// middleware and handler, which find the notification in their context,
// and answers a bad one itself with nothing after it running.
func testMiddlewareVerify(t *testing.T, serve ServeFunc, tamper bool) {
	var through, reached atomic.Bool
	var gotFee atomic.Int64
	base := serve(t, AdapterRoutes{{Routes: []Route{{
		Method: http.MethodPost, Path: "/notify",
		Middleware: []func(http.Handler) http.Handler{VerifyMiddleware(t)},
		Through:    func(context.Context) { through.Store(true) },
		Native: func(ctx context.Context) Reply {
			reached.Store(true)
			n, ok := middleware.NotificationFromContext(ctx)
			if !ok {
				t.Error("NotificationFromContext: not found in the framework handler's context")
				return Reply{Status: http.StatusInternalServerError, Body: "fail"}
			}
			gotFee.Store(n.TotalFee)
			return Reply{Status: http.StatusOK, Body: "success"}
		},
	}}}})
	status, body := PostForm(t, base+"/notify", Notification(t, tamper))

	want, wantStatus, wantBody := !tamper, http.StatusOK, "success"
	if tamper {
		wantStatus, wantBody = http.StatusUnauthorized, "fail"
	}
	if got := reached.Load(); got != want {
		t.Errorf("framework handler reached: got %v, want %v", got, want)
	}
	if got := through.Load(); got != want {
		t.Errorf("later framework middleware reached: got %v, want %v", got, want)
	}
	if status != wantStatus || body != wantBody {
		t.Errorf("got reply %d %q, want %d %q", status, body, wantStatus, wantBody)
	}
	if want && gotFee.Load() != KitAmount {
		t.Errorf("got total_fee %d, want %d", gotFee.Load(), KitAmount)
	}
}

// testMiddlewareGroupAborts: as group middleware, a rejection answers
// fail with the kit's status and no later middleware or handler runs.
func testMiddlewareGroupAborts(t *testing.T, serve ServeFunc) {
	var reached atomic.Bool
	base := serve(t, AdapterRoutes{{
		Prefix:     "/pay",
		Middleware: []func(http.Handler) http.Handler{VerifyMiddleware(t)},
		Routes: []Route{{
			Method: http.MethodPost, Path: "/notify",
			Through: func(context.Context) { reached.Store(true) },
			Native: func(context.Context) Reply {
				reached.Store(true)
				return Reply{Status: http.StatusOK, Body: "success"}
			},
		}},
	}})
	status, body := PostForm(t, base+"/pay/notify", Notification(t, true))
	if reached.Load() {
		t.Error("a framework middleware or handler ran after the rejecting group middleware")
	}
	if status != http.StatusUnauthorized || body != "fail" {
		t.Errorf("got %d %q, want 401 %q", status, body, "fail")
	}
}

// testMiddlewareWriterWrapping: a kit middleware that wraps the writer
// (the kit Logger) sees what a later framework handler answers, and the
// handler's own headers still reach the client.
func testMiddlewareWriterWrapping(t *testing.T, serve ServeFunc) {
	const stout = "short and stout"
	var logs lockedBuffer
	base := serve(t, AdapterRoutes{{Routes: []Route{{
		Method: http.MethodGet, Path: "/orders/{out_trade_no}",
		Middleware: []func(http.Handler) http.Handler{middleware.Logger(slog.New(slog.NewJSONHandler(&logs, nil)))},
		Native: func(context.Context) Reply {
			return Reply{Status: http.StatusTeapot, Body: stout, Header: http.Header{"X-Native": {"kept"}}}
		},
	}}}})
	res, err := http.Get(base + "/orders/X1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTeapot || string(b) != stout || res.Header.Get("X-Native") != "kept" {
		t.Errorf("got %d %q (X-Native %q), want 418 %q (kept)", res.StatusCode, b, res.Header.Get("X-Native"), stout)
	}
	var line struct {
		Status int   `json:"status"`
		Bytes  int64 `json:"bytes"`
	}
	if err := json.Unmarshal(logs.bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", logs.bytes(), err)
	}
	if line.Status != http.StatusTeapot || line.Bytes != int64(len(stout)) {
		t.Errorf("kit Logger saw status %d bytes %d, want 418 and %d", line.Status, line.Bytes, len(stout))
	}
}

// testMiddlewareRecover: a panic in a later framework handler reaches the
// kit Recover, which answers fail.
func testMiddlewareRecover(t *testing.T, serve ServeFunc) {
	base := serve(t, AdapterRoutes{{Routes: []Route{{
		Method: http.MethodPost, Path: "/notify",
		Middleware: []func(http.Handler) http.Handler{middleware.Recover(middleware.RecoverConfig{Logger: Quiet()})},
		Native:     func(context.Context) Reply { return Reply{Panic: true} },
	}}}})
	status, body := PostForm(t, base+"/notify", "a=1")
	if status != http.StatusInternalServerError || body != "fail" {
		t.Errorf("got %d %q, want 500 %q", status, body, "fail")
	}
}

// CheckRecoverDropsReply is for adapters whose framework buffers the
// reply until the chain returns (Fiber, Hertz): a framework handler
// behind the kit Recover answers 200 success and then panics, and the
// client must get Recover's 500 fail alone, never the success a
// notification handler had not earned. (Over net/http the status line
// may already be sent, and Recover leaves it.)
func CheckRecoverDropsReply(t *testing.T, serve ServeFunc) {
	t.Helper()
	base := serve(t, AdapterRoutes{{Routes: []Route{{
		Method: http.MethodPost, Path: "/notify",
		Middleware: []func(http.Handler) http.Handler{middleware.Recover(middleware.RecoverConfig{Logger: Quiet()})},
		Native: func(context.Context) Reply {
			return Reply{Status: http.StatusOK, Body: "success", Panic: true}
		},
	}}}})
	status, body := PostForm(t, base+"/notify", "a=1")
	if status != http.StatusInternalServerError || body != "fail" {
		t.Errorf("got %d %q, want 500 %q", status, body, "fail")
	}
}

// testMiddlewareBodyLimit: the kit BodyLimit rejects an oversized body
// before any framework handler runs.
func testMiddlewareBodyLimit(t *testing.T, serve ServeFunc) {
	var reached atomic.Bool
	base := serve(t, AdapterRoutes{{Routes: []Route{{
		Method: http.MethodPost, Path: "/notify",
		Middleware: []func(http.Handler) http.Handler{middleware.BodyLimit(16)},
		Native: func(context.Context) Reply {
			reached.Store(true)
			return Reply{Status: http.StatusOK, Body: "success"}
		},
	}}}})
	status, body := PostForm(t, base+"/notify", "a=12345678901234567890")
	if status != http.StatusRequestEntityTooLarge || reached.Load() {
		t.Errorf("got %d %q (handler reached %v), want 413 and not reached", status, body, reached.Load())
	}
}

// testBodyByteForByte: bodies a form decoder would re-encode reach the
// kit unchanged, both through the verifying middleware (which answers
// fail if a byte changed) and in the kit handler.
func testBodyByteForByte(t *testing.T, serve ServeFunc) {
	var capture Capture
	base := serve(t, AdapterRoutes{{Routes: []Route{{
		Method: http.MethodPost, Path: "/notify",
		Middleware: []func(http.Handler) http.Handler{VerifyMiddleware(t)},
		Handler:    &capture,
	}}}})
	CheckBodies(t, base+"/notify", &capture)
}

// testTwoContentTypes: a genuine notification sent with two Content-Type
// headers, the form's and another, in either order, is refused with 415
// by the verifying kit middleware, and no framework handler runs. Some
// servers keep one of the two (fasthttp the last, net/http's Get the
// first); an adapter must hand the kit both, so that it answers alike
// whatever the framework.
func testTwoContentTypes(t *testing.T, serve ServeFunc) {
	var reached atomic.Bool
	base := serve(t, AdapterRoutes{{Routes: []Route{{
		Method: http.MethodPost, Path: "/notify",
		Middleware: []func(http.Handler) http.Handler{VerifyMiddleware(t)},
		Native: func(context.Context) Reply {
			reached.Store(true)
			return Reply{Status: http.StatusOK, Body: "success"}
		},
	}}}})
	const form = "application/x-www-form-urlencoded"
	for _, types := range [][]string{{"text/plain", form}, {form, "text/plain"}, {form, form}} {
		req, err := http.NewRequest(http.MethodPost, base+"/notify", strings.NewReader(Notification(t, false)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header["Content-Type"] = types
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusUnsupportedMediaType || string(b) != "fail" {
			t.Errorf("Content-Type %q: got %d %q, want 415 %q", types, res.StatusCode, b, "fail")
		}
	}
	if reached.Load() {
		t.Error("a framework handler ran for a request with two Content-Types")
	}
}

// testGatewayEndToEnd mounts the Kit as a host would, under a /pay group
// with the kit Recover, BodyLimit on the notification route, and the
// status at /pay/orders/{out_trade_no}, and drives a payment through it
// with the gateway simulator.
func testGatewayEndToEnd(t *testing.T, serve ServeFunc) {
	// The Kit needs the notify URL, which exists only once serve has
	// mounted the routes; they reach it through kit, which is set before
	// any request. (An atomic, as fasthttp's and netpoll's socket I/O is
	// invisible to the race detector.)
	var kit atomic.Pointer[Kit]
	late := func(h func(*Kit) http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h(kit.Load()).ServeHTTP(w, r)
		})
	}
	base := serve(t, AdapterRoutes{{
		Prefix:     "/pay",
		Middleware: []func(http.Handler) http.Handler{middleware.Recover(middleware.RecoverConfig{Logger: Quiet()})},
		Routes: []Route{
			{Method: http.MethodPost, Path: "/preorder", Handler: late(func(k *Kit) http.Handler { return k.PreOrder })},
			{
				Method: http.MethodPost, Path: "/notify",
				Middleware: []func(http.Handler) http.Handler{middleware.BodyLimit(64 << 10)},
				Handler:    late(func(k *Kit) http.Handler { return k.Notify }),
			},
			{Method: http.MethodGet, Path: "/orders/{out_trade_no}", Handler: late(func(k *Kit) http.Handler { return k.Status })},
		},
	}})
	k := NewKit(t, base+"/pay/notify")
	kit.Store(k)
	k.CheckPayment(t, base)
}

// get requests u and returns the status and reply.
func get(tb testing.TB, u string) (int, string) {
	tb.Helper()
	res, err := http.Get(u)
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

// lockedBuffer is a log sink the server and the test share: fasthttp's
// and netpoll's socket I/O is invisible to the race detector, so the
// reply arriving does not order the server's write before the test's
// read.
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
