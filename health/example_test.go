package health_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/cypaykit/kit/health"
	"github.com/cypaykit/kit/store/memstore"
)

// ExampleNew mounts the liveness and readiness probes. Readiness reads
// the store at most once per CacheFor, so the route may be public.
func ExampleNew() {
	st := memstore.New()
	probes, err := health.New(health.Config{Store: st}) // add Reconciler: rec in a real shop
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", probes.Live())
	mux.Handle("GET /readyz", probes.Ready())

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Println(w.Code, probes.Check(context.Background()).Ready)
	// Output: 200 true
}
