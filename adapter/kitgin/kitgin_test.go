package kitgin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cypaykit/kit/adapter/adaptertest"
	"github.com/cypaykit/kit/adapter/kitgin"
)

func init() { gin.SetMode(gin.TestMode) }

// TestAdapter runs the kit's adapter conformance suite on gin.
func TestAdapter(t *testing.T) {
	adaptertest.RunAdapterTests(t, serveRoutes)
}

// serveRoutes mounts routes on a gin engine, kit middleware with
// Middleware and kit handlers with Handler.
func serveRoutes(t *testing.T, routes adaptertest.AdapterRoutes) string {
	e := gin.New()
	for _, g := range routes {
		grp := e.Group(g.Prefix, middlewares(g.Middleware)...)
		for _, r := range g.Routes {
			chain := middlewares(r.Middleware)
			if r.Through != nil {
				chain = append(chain, func(c *gin.Context) { r.Through(c.Request.Context()) })
			}
			if r.Handler != nil {
				chain = append(chain, kitgin.Handler(r.Handler))
			} else {
				chain = append(chain, native(r.Native))
			}
			grp.Handle(r.Method, adaptertest.ColonPath(r.Path), chain...)
		}
	}
	return serve(t, e)
}

func middlewares(mws []func(http.Handler) http.Handler) []gin.HandlerFunc {
	var hs []gin.HandlerFunc
	for _, mw := range mws {
		hs = append(hs, kitgin.Middleware(mw))
	}
	return hs
}

func native(f adaptertest.Native) gin.HandlerFunc {
	return func(c *gin.Context) {
		rep := f(c.Request.Context())
		for k, vs := range rep.Header {
			for _, v := range vs {
				c.Header(k, v)
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

// serve runs e on a real HTTP server for the test's lifetime.
func serve(tb testing.TB, e *gin.Engine) string {
	tb.Helper()
	srv := httptest.NewServer(e)
	tb.Cleanup(srv.Close)
	return srv.URL
}
