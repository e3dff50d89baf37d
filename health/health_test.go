package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/health"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// probedStore counts the health probe's reads and fails them with err.
type probedStore struct {
	store.OrderStore
	gets  atomic.Int32
	err   error
	block bool // Get waits for its context to end
}

func (s *probedStore) Get(ctx context.Context, otn string) (*store.Order, error) {
	s.gets.Add(1)
	if s.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if s.err != nil {
		return nil, s.err
	}
	return s.OrderStore.Get(ctx, otn)
}

func newHealth(t *testing.T, cfg health.Config) *health.Checker {
	t.Helper()
	h, err := health.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func probe(t *testing.T, h http.Handler, method string) (int, health.Readiness) {
	t.Helper()
	w := serve(h, method, "/readyz")
	var rd health.Readiness
	if w.Code != http.StatusMethodNotAllowed {
		if err := json.Unmarshal(w.Body.Bytes(), &rd); err != nil {
			t.Fatalf("body %q: %v", w.Body.String(), err)
		}
	}
	return w.Code, rd
}

func TestHealthNeedsStore(t *testing.T) {
	if _, err := health.New(health.Config{}); err == nil {
		t.Fatal("New without a Store: no error")
	}
}

func TestHealthLiveIgnoresStore(t *testing.T) {
	st := &probedStore{OrderStore: memstore.New(), err: errors.New("db down")}
	h := newHealth(t, health.Config{Store: st})
	w := serve(h.Live(), http.MethodGet, "/healthz")
	if w.Code != http.StatusOK || st.gets.Load() != 0 {
		t.Fatalf("live = %d after %d store reads; want 200 and none (a store outage must not restart the fleet)", w.Code, st.gets.Load())
	}
}

func TestHealthReadyWhenStoreAnswers(t *testing.T) {
	h := newHealth(t, health.Config{Store: memstore.New()})
	code, rd := probe(t, h.Ready(), http.MethodGet)
	if code != http.StatusOK || !rd.Ready || !rd.Store.OK || rd.Reconciler != nil {
		t.Fatalf("ready = %d %+v; want 200, ready, no reconciler check", code, rd)
	}
	if code, _ := probe(t, h.Ready(), http.MethodHead); code != http.StatusOK {
		t.Fatalf("HEAD = %d; want 200", code)
	}
}

func TestHealthReadyStoreDownHidesErrorText(t *testing.T) {
	secret := errors.New("dial tcp 10.1.2.3:5432: user payroll refused")
	for _, show := range []bool{false, true} {
		st := &probedStore{OrderStore: memstore.New(), err: secret}
		h := newHealth(t, health.Config{Store: st, ShowErrors: show})
		code, rd := probe(t, h.Ready(), http.MethodGet)
		if code != http.StatusServiceUnavailable || rd.Ready || rd.Store.OK {
			t.Fatalf("show=%v: ready = %d %+v; want 503, store not ok", show, code, rd)
		}
		want := "unreachable"
		if show {
			want = secret.Error()
		}
		if rd.Store.Error != want {
			t.Fatalf("show=%v: error %q; want %q", show, rd.Store.Error, want)
		}
	}
}

func TestHealthReadyStoreTimeout(t *testing.T) {
	st := &probedStore{OrderStore: memstore.New(), block: true}
	h := newHealth(t, health.Config{Store: st, Timeout: time.Millisecond})
	code, rd := probe(t, h.Ready(), http.MethodGet)
	if code != http.StatusServiceUnavailable || rd.Store.Error != "timeout" {
		t.Fatalf("ready = %d %+v; want 503 timeout", code, rd)
	}
}

func TestHealthProbeMethods(t *testing.T) {
	h := newHealth(t, health.Config{Store: memstore.New()})
	for _, hh := range []http.Handler{h.Live(), h.Ready()} {
		w := serve(hh, http.MethodPost, "/readyz")
		if w.Code != http.StatusMethodNotAllowed || !strings.Contains(w.Header().Get("Allow"), "GET") {
			t.Fatalf("POST = %d Allow %q; want 405 allowing GET", w.Code, w.Header().Get("Allow"))
		}
	}
}

// A flood of probes within CacheFor costs the store one read: the route
// may be public, and a thousand connections must not become a thousand
// queries.
func TestHealthProbeFloodReadsStoreOnce(t *testing.T) {
	clock := newClock()
	st := &probedStore{OrderStore: memstore.New()}
	h := newHealth(t, health.Config{Store: st, Now: clock.Now})
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rd := h.Check(context.Background()); !rd.Ready {
				t.Errorf("not ready: %+v", rd)
			}
		}()
	}
	wg.Wait()
	if n := st.gets.Load(); n != 1 {
		t.Fatalf("200 probes read the store %d times; want 1", n)
	}
	clock.Advance(time.Second)
	h.Check(context.Background())
	if n := st.gets.Load(); n != 2 {
		t.Fatalf("a probe after CacheFor read the store %d times in all; want 2", n)
	}
}

// failingClaims fails every claim, as a scheduler on an unreachable
// database does.
type failingClaims struct{ store.Scheduler }

func (failingClaims) Claim(context.Context, store.ClaimRequest) ([]store.Claim, error) {
	return nil, errors.New("claim: connection refused")
}

func TestHealthReadyFollowsReconciler(t *testing.T) {
	e := newEnv(t, envOptions{})
	newRec := func(s store.Scheduler) *handler.Reconciler {
		r, err := handler.NewReconciler(handler.ReconcilerConfig{
			Settler: e.settler, Client: e.clients[model.V2], Logger: quietLogger(),
			Now: e.clock.Now, Scheduler: s,
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rec := newRec(e.mem)
	h := newHealth(t, health.Config{Store: e.store, Reconciler: rec, Now: e.clock.Now,
		ReconcilerStale: time.Minute, CacheFor: time.Nanosecond})
	ready := func() (bool, *health.ReconcilerCheck) {
		t.Helper()
		e.clock.Advance(time.Millisecond) // past CacheFor
		rd := h.Check(context.Background())
		return rd.Ready, rd.Reconciler
	}
	if ok, rc := ready(); !ok || rc.LastPass != nil {
		t.Fatalf("just started: ready=%v %+v; want ready with no pass yet (a grace of ReconcilerStale)", ok, rc)
	}
	e.clock.Advance(61 * time.Second)
	if ok, _ := ready(); ok {
		t.Fatal("no pass for 61 s with ReconcilerStale 1m: ready")
	}
	if err := rec.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ok, rc := ready(); !ok || rc.LastPass == nil || e.clock.Now().Sub(*rc.LastPass) != time.Millisecond {
		t.Fatalf("after a pass: ready=%v %+v; want ready, last pass now", ok, rc)
	}
	e.clock.Advance(61 * time.Second)
	if ok, _ := ready(); ok {
		t.Fatal("pass 61 s old: ready")
	}

	// A pass that cannot reach the store is no pass.
	broken := newRec(failingClaims{e.mem})
	h2 := newHealth(t, health.Config{Store: e.store, Reconciler: broken, Now: e.clock.Now,
		ReconcilerStale: time.Minute})
	if err := broken.RunOnce(context.Background()); err == nil {
		t.Fatal("claims fail, RunOnce: no error")
	}
	if _, ok := broken.LastPass(); ok {
		t.Fatal("a pass whose claims failed was recorded as a pass")
	}
	e.clock.Advance(61 * time.Second)
	if rd := h2.Check(context.Background()); rd.Ready {
		t.Fatalf("reconciler failing for 61 s: ready %+v", rd)
	}
}
