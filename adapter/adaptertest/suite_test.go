package adaptertest_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cypaykit/kit/adapter/adaptertest"
)

// TestAdapterSuiteOnServeMux runs the adapter suite against plain
// net/http, where kit middleware and handlers need no adapter, so the
// suite itself is exercised in the root module and a failure in an
// adapter's run is the adapter's.
func TestAdapterSuiteOnServeMux(t *testing.T) {
	adaptertest.RunAdapterTests(t, serveMux)
}

// serveMux mounts routes on a ServeMux: group middleware, then route
// middleware, then the pass-through, around the handler.
func serveMux(t *testing.T, routes adaptertest.AdapterRoutes) string {
	mux := http.NewServeMux()
	for _, g := range routes {
		for _, r := range g.Routes {
			h := r.Handler
			if h == nil {
				h = native(r.Native)
			}
			if r.Through != nil {
				h = through(r.Through, h)
			}
			for i := len(r.Middleware) - 1; i >= 0; i-- {
				h = r.Middleware[i](h)
			}
			for i := len(g.Middleware) - 1; i >= 0; i-- {
				h = g.Middleware[i](h)
			}
			mux.Handle(r.Method+" "+g.Prefix+r.Path, h)
		}
	}
	srv := httptest.NewUnstartedServer(mux)
	// HandlerReply's second WriteHeader is logged by net/http on purpose.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func through(f func(context.Context), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f(r.Context())
		next.ServeHTTP(w, r)
	})
}

func native(f adaptertest.Native) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := f(r.Context())
		for k, vs := range rep.Header {
			w.Header()[k] = vs
		}
		if rep.Status != 0 {
			w.WriteHeader(rep.Status)
			w.Write([]byte(rep.Body))
		}
		if rep.Panic {
			panic("boom")
		}
	})
}
