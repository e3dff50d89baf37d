package kitecho5_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/cypaykit/kit/adapter/adaptertest"
	"github.com/cypaykit/kit/adapter/kitecho5"
	"github.com/cypaykit/kit/middleware"
)

// TestAdapter runs the kit's adapter conformance suite on echo v5.
func TestAdapter(t *testing.T) {
	adaptertest.RunAdapterTests(t, serveRoutes)
}

// serveRoutes mounts routes on echo, kit middleware with Middleware and
// kit handlers with Handler.
func serveRoutes(t *testing.T, routes adaptertest.AdapterRoutes) string {
	e := newEcho()
	for _, g := range routes {
		grp := e.Group(g.Prefix, middlewares(g.Middleware)...)
		for _, r := range g.Routes {
			mws := middlewares(r.Middleware)
			if r.Through != nil {
				mws = append(mws, func(next echo.HandlerFunc) echo.HandlerFunc {
					return func(c *echo.Context) error {
						r.Through(c.Request().Context())
						return next(c)
					}
				})
			}
			h := native(r.Native)
			if r.Handler != nil {
				h = kitecho5.Handler(r.Handler)
			}
			grp.Add(r.Method, adaptertest.ColonPath(r.Path), h, mws...)
		}
	}
	return serve(t, e)
}

func middlewares(mws []func(http.Handler) http.Handler) []echo.MiddlewareFunc {
	var ms []echo.MiddlewareFunc
	for _, mw := range mws {
		ms = append(ms, kitecho5.Middleware(mw))
	}
	return ms
}

func native(f adaptertest.Native) echo.HandlerFunc {
	return func(c *echo.Context) error {
		rep := f(c.Request().Context())
		for k, vs := range rep.Header {
			for _, v := range vs {
				c.Response().Header().Add(k, v)
			}
		}
		if rep.Status != 0 {
			if err := c.String(rep.Status, rep.Body); err != nil {
				return err
			}
		}
		if rep.Panic {
			panic("boom")
		}
		return nil
	}
}

// TestHandlerEscapedSlash: echo routes an encoded slash inside a
// parameter, and Handler gives the kit the unescaped value. echo v5's
// default router hands out the escaped value whenever the URL has a raw
// form, so Handler unescapes it itself (once: see Handler's note on
// routers that already unescape).
func TestHandlerEscapedSlash(t *testing.T) {
	t.Parallel()
	adaptertest.CheckPathValues(t, serveRoutes(t, adaptertest.PathValueRoutes()), []adaptertest.PathCase{
		{Path: "/shops/s%2F1/orders/A%20B", Want: "s/1|A B|"},
	})
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
