package kithertz_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/app/server"
	"github.com/cloudwego/hertz/pkg/common/config"
	"github.com/cloudwego/hertz/pkg/common/hlog"

	"github.com/cypaykit/kit/adapter/adaptertest"
	"github.com/cypaykit/kit/adapter/kithertz"
)

func init() { hlog.SetOutput(io.Discard) }

// TestAdapter runs the kit's adapter conformance suite on Hertz's own
// server.
func TestAdapter(t *testing.T) {
	adaptertest.RunAdapterTests(t, serveRoutes)
}

// serveRoutes mounts routes on a Hertz server, kit middleware with
// Middleware and kit handlers with Handler.
func serveRoutes(t *testing.T, routes adaptertest.AdapterRoutes) string {
	h, base, start := newHertz(t)
	for _, g := range routes {
		grp := h.Group(g.Prefix, middlewares(g.Middleware)...)
		for _, r := range g.Routes {
			chain := middlewares(r.Middleware)
			if r.Through != nil {
				chain = append(chain, func(ctx context.Context, c *app.RequestContext) {
					r.Through(ctx)
					c.Next(ctx)
				})
			}
			if r.Handler != nil {
				chain = append(chain, kithertz.Handler(r.Handler))
			} else {
				chain = append(chain, native(r.Native))
			}
			grp.Handle(r.Method, adaptertest.ColonPath(r.Path), chain...)
		}
	}
	start()
	return base
}

func middlewares(mws []func(http.Handler) http.Handler) []app.HandlerFunc {
	var hs []app.HandlerFunc
	for _, mw := range mws {
		hs = append(hs, kithertz.Middleware(mw))
	}
	return hs
}

func native(f adaptertest.Native) app.HandlerFunc {
	return func(ctx context.Context, c *app.RequestContext) {
		rep := f(ctx)
		for k, vs := range rep.Header {
			for _, v := range vs {
				c.Response.Header.Add(k, v)
			}
		}
		if rep.Status != 0 {
			c.String(rep.Status, rep.Body)
		}
		if rep.Panic {
			panic("boom")
		}
	}
}

// TestMiddlewareRecoverDropsReply: Hertz buffers the reply, so what a
// handler wrote before panicking is dropped and the kit Recover answers
// fail alone.
func TestMiddlewareRecoverDropsReply(t *testing.T) {
	t.Parallel()
	adaptertest.CheckRecoverDropsReply(t, serveRoutes)
}

// TestBodyReadFailure: when Hertz streams the body and reading it fails
// (a malformed chunk), Middleware and Handler answer the gateway's fail
// with 400 and run nothing after them, rather than verify or serve the
// part of the body that arrived.
func TestBodyReadFailure(t *testing.T) {
	t.Parallel()
	var mwReached, handlerReached, after atomic.Bool
	kit := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mwReached.Store(true)
			next.ServeHTTP(w, r)
		})
	}
	h, base, start := newHertz(t, server.WithStreamBody(true))
	h.POST("/mw", kithertz.Middleware(kit), func(ctx context.Context, c *app.RequestContext) { after.Store(true) })
	h.POST("/handler", kithertz.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { handlerReached.Store(true) })))
	start()
	for _, path := range []string{"/mw", "/handler"} {
		t.Run(path, func(t *testing.T) {
			status, body := postBrokenChunks(t, strings.TrimPrefix(base, "http://"), path)
			if status != http.StatusBadRequest || body != "fail" {
				t.Errorf("got %d %q, want 400 %q", status, body, "fail")
			}
		})
	}
	if mwReached.Load() || after.Load() || handlerReached.Load() {
		t.Errorf("reached: kit middleware %v, later handler %v, kit handler %v; want none",
			mwReached.Load(), after.Load(), handlerReached.Load())
	}
}

// postBrokenChunks sends a chunked POST whose second chunk size is not
// hex, and reads the reply, waiting at most 30 s.
func postBrokenChunks(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	req := "POST " + path + " HTTP/1.1\r\nHost: kit\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\na=1\r\nzz\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// newHertz returns a Hertz server, built with opts, for a free loopback port, and its base
// URL; start runs it for the test's lifetime once routes are added.
// (server.WithListener, which would avoid picking a port, is only in
// Hertz v0.10.4 on; the tests run on the oldest version supported.)
func newHertz(tb testing.TB, opts ...config.Option) (h *server.Hertz, base string, start func()) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h = server.New(append([]config.Option{server.WithHostPorts(addr), server.WithExitWaitTime(time.Millisecond)}, opts...)...)
	return h, "http://" + addr, func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = h.Run()
		}()
		tb.Cleanup(func() {
			// Old Hertz versions wait for idle keep-alive connections to
			// close before Shutdown returns.
			http.DefaultClient.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = h.Shutdown(ctx)
			<-done
		})
		waitListening(tb, addr, done)
	}
}

// waitListening waits, at most 30 s, for the server started in the
// background to accept connections.
func waitListening(tb testing.TB, addr string, done <-chan struct{}) {
	tb.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-done:
			tb.Fatal("the Hertz server stopped before listening")
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the Hertz server did not listen on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
