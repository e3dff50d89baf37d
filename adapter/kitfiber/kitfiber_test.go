package kitfiber_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/cypaykit/kit/adapter/adaptertest"
	"github.com/cypaykit/kit/adapter/kitfiber"
)

// TestAdapter runs the kit's adapter conformance suite on Fiber's own
// server (fasthttp).
func TestAdapter(t *testing.T) {
	adaptertest.RunAdapterTests(t, serveRoutes)
}

// serveRoutes mounts routes on a Fiber app with the default config.
func serveRoutes(t *testing.T, routes adaptertest.AdapterRoutes) string {
	return serveWith(fiber.Config{})(t, routes)
}

// serveWith mounts routes on a Fiber app built with cfg, kit middleware
// with Middleware and kit handlers with Handler.
func serveWith(cfg fiber.Config) adaptertest.ServeFunc {
	return func(t *testing.T, routes adaptertest.AdapterRoutes) string {
		return mount(t, cfg, routes)
	}
}

func mount(t *testing.T, cfg fiber.Config, routes adaptertest.AdapterRoutes) string {
	app, base, start := newFiber(t, cfg)
	for _, g := range routes {
		grp := app.Group(g.Prefix, middlewares(g.Middleware)...)
		for _, r := range g.Routes {
			chain := middlewares(r.Middleware)
			if r.Through != nil {
				chain = append(chain, func(c *fiber.Ctx) error {
					r.Through(c.UserContext())
					return c.Next()
				})
			}
			if r.Handler != nil {
				chain = append(chain, kitfiber.Handler(r.Handler))
			} else {
				chain = append(chain, native(r.Native))
			}
			grp.Add(r.Method, adaptertest.ColonPath(r.Path), chain...)
		}
	}
	start()
	return base
}

func middlewares(mws []func(http.Handler) http.Handler) []fiber.Handler {
	var hs []fiber.Handler
	for _, mw := range mws {
		hs = append(hs, kitfiber.Middleware(mw))
	}
	return hs
}

func native(f adaptertest.Native) fiber.Handler {
	return func(c *fiber.Ctx) error {
		rep := f(c.UserContext())
		for k, vs := range rep.Header {
			for _, v := range vs {
				c.Append(k, v)
			}
		}
		if rep.Status != 0 {
			if err := c.Status(rep.Status).SendString(rep.Body); err != nil {
				return err
			}
		}
		if rep.Panic {
			panic("boom")
		}
		return nil
	}
}

// TestHandlerEscapedPathValues: Fiber matches on the escaped path (no
// UnescapePath), so an encoded slash stays inside its parameter, and
// Handler unescapes the values as net/http's PathValue would.
func TestHandlerEscapedPathValues(t *testing.T) {
	t.Parallel()
	adaptertest.CheckPathValues(t, serveRoutes(t, adaptertest.PathValueRoutes()), []adaptertest.PathCase{
		{Path: "/shops/s%2F1/orders/A%2BB", Want: "s/1|A+B|"},
	})
}

// TestHandlerUnescapePath: with Config.UnescapePath Fiber has unescaped
// the path before routing, so Handler must not unescape the values a
// second time ("%2531" is "%31", not "1"), and the whole suite holds.
func TestHandlerUnescapePath(t *testing.T) {
	t.Parallel()
	serve := serveWith(fiber.Config{UnescapePath: true})
	adaptertest.CheckPathValues(t, serve(t, adaptertest.PathValueRoutes()), []adaptertest.PathCase{
		{Path: "/shops/s%2531/orders/A%2BB", Want: "s%31|A+B|"},
	})
	adaptertest.RunAdapterTests(t, serve)
}

// TestMiddlewareRecoverDropsReply: Fiber buffers the reply, so what a
// handler wrote before panicking is dropped and the kit Recover answers
// fail alone.
func TestMiddlewareRecoverDropsReply(t *testing.T) {
	t.Parallel()
	adaptertest.CheckRecoverDropsReply(t, serveRoutes)
}

// newFiber returns a Fiber app built with cfg, and the base URL of the loopback
// listener that start serves it on, with Fiber's own server, for the
// test's lifetime.
func newFiber(tb testing.TB, cfg fiber.Config) (app *fiber.App, base string, start func()) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DisableStartupMessage = true
	app = fiber.New(cfg)
	return app, "http://" + ln.Addr().String(), func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = app.Listener(ln)
		}()
		tb.Cleanup(func() {
			_ = app.Shutdown()
			<-done
		})
	}
}
