package health_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// testClock is a settable clock shared by the probe and the reconciler.
type testClock struct{ ns atomic.Int64 }

func newClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// envOptions has no options yet; it keeps the moved tests' calls as
// they were in handler.
type envOptions struct{}

// env is the least a Reconciler needs: a store, a settler on it and a
// client of a simulated gateway.
type env struct {
	mem     *memstore.Store
	store   store.OrderStore
	settler *handler.Settler
	clients map[model.Version]*client.Client
	clock   *testClock
}

func newEnv(t *testing.T, _ envOptions) *env {
	t.Helper()
	const mch, key = "M100001", "merchant-key-a-0123456789abcdef"
	e := &env{mem: memstore.New(), clock: newClock()}
	e.store = e.mem
	sim := gatewaytest.RunT(t, gatewaytest.Config{Merchants: map[string]string{mch: key}, TimeScale: 0.001})
	c, err := client.New(client.Config{
		GatewayURL: sim.URL, OpenURL: sim.URL, Version: model.V2,
		Keys:       client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{mch: key})},
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clients = map[model.Version]*client.Client{model.V2: c}
	e.settler, err = handler.NewSettler(handler.SettlerConfig{
		Store: e.store, Locker: e.mem, Logger: quietLogger(), Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serve sends h one bodiless request and returns the response.
func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}
