// Package health serves the liveness and readiness probes of a shop that
// mounts the kit: New(Config{Store: orders, Reconciler: rec}) gives a
// Checker whose Live and Ready are the /healthz and /readyz handlers.
// It stands above handler and reads only its exported API (the
// Reconciler's LastPass).
package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
)

// Config configures a Checker. Every field documents its zero value.
type Config struct {
	// Store is probed by readiness with one read of an attempt that does
	// not exist: an answer, found or not, means reachable. Required.
	Store store.OrderStore

	// Reconciler, when set, makes readiness fail once its latest pass
	// that reached the store is older than ReconcilerStale (or it has
	// made none that long after the Checker was built). Nil: not checked.
	Reconciler *handler.Reconciler

	// ReconcilerStale is how old the latest pass may be. Zero means 2
	// minutes: 24 passes at the default 5 s interval, so one slow pass
	// (a rate-limited backlog) never flaps the probe.
	ReconcilerStale time.Duration

	// Timeout bounds the store probe. Zero means 2 seconds, inside the
	// 5 s default probe timeout of Kubernetes.
	Timeout time.Duration

	// CacheFor is how long a readiness answer is reused. Zero means 1
	// second. Probes are cheap to send and the route may be public: one
	// probe at a time reaches the store, every other caller in that
	// second reads the cached answer, so a flood of probes costs the
	// database nothing more.
	CacheFor time.Duration

	// ShowErrors puts the store's error text in the readiness body. Off,
	// the body says only "timeout" or "unreachable": the probe route is
	// often public, and a driver's error names hosts, ports and users an
	// outsider should not learn. Turn it on where only operators reach the
	// route (an internal listener).
	ShowErrors bool

	// Now is the clock; it must be the Reconciler's. Nil means time.Now.
	Now func() time.Time
}

// Checker serves the liveness and readiness probes of a shop that mounts
// the kit. Liveness answers 200 while the process can serve HTTP at all
// and depends on nothing: a store outage must not make an orchestrator
// restart every instance at once. Readiness answers 200 when the store
// answers and the reconciler is passing, else 503, with the facts as JSON
// either way, for the operator who curls it at 3 a.m.
type Checker struct {
	store     store.OrderStore
	rec       *handler.Reconciler
	stale     time.Duration
	timeout   time.Duration
	cacheFor  time.Duration
	now       func() time.Time
	detail    bool
	born      time.Time
	probing   sync.Mutex // one store probe at a time
	mu        sync.Mutex // guards last and lastAt
	last      Readiness
	lastAt    time.Time
	haveCache bool
}

// Readiness is the body of the readiness probe.
type Readiness struct {
	// Ready is true when every check passed.
	Ready bool `json:"ready"`
	// Store is the store probe.
	Store StoreCheck `json:"store"`
	// Reconciler is absent when Config.Reconciler is nil.
	Reconciler *ReconcilerCheck `json:"reconciler,omitempty"`
	// CheckedAt is when the checks ran; a cached answer keeps its time.
	CheckedAt time.Time `json:"checked_at"`
}

// StoreCheck is the store probe's result.
type StoreCheck struct {
	// OK is true when the store answered the probe read.
	OK bool `json:"ok"`
	// LatencyMS is how long the probe read took, in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	// Error is "timeout" or "unreachable", or the store's error text
	// with Config.ShowErrors.
	Error string `json:"error,omitempty"`
}

// ReconcilerCheck is the reconciler check's result.
type ReconcilerCheck struct {
	// OK is true when the latest pass is no older than ReconcilerStale.
	OK bool `json:"ok"`
	// LastPass is the end of the latest pass that reached the store;
	// absent before the first.
	LastPass *time.Time `json:"last_pass,omitempty"`
	// AgeSeconds is how long ago that was (or since the Checker started, when
	// no pass has ended yet).
	AgeSeconds float64 `json:"age_seconds"`
	// StaleAfterSeconds is Config.ReconcilerStale.
	StaleAfterSeconds float64 `json:"stale_after_seconds"`
}

// probeID is the attempt the store probe reads. It is not a valid
// out_trade_no of the kit's (those are digits and letters only), so the
// probe can never read a real attempt.
const probeID = "cypay-health-probe"

// New validates cfg and returns a Checker.
func New(cfg Config) (*Checker, error) {
	if cfg.Store == nil {
		return nil, errors.New("health: Config.Store is required")
	}
	if cfg.ReconcilerStale < 0 || cfg.Timeout < 0 || cfg.CacheFor < 0 {
		return nil, errors.New("health: Config durations must not be negative")
	}
	h := &Checker{
		store: cfg.Store, rec: cfg.Reconciler,
		stale: cfg.ReconcilerStale, timeout: cfg.Timeout, cacheFor: cfg.CacheFor,
		now: cfg.Now, detail: cfg.ShowErrors,
	}
	if h.stale == 0 {
		h.stale = 2 * time.Minute
	}
	if h.timeout == 0 {
		h.timeout = 2 * time.Second
	}
	if h.cacheFor == 0 {
		h.cacheFor = time.Second
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.born = h.now()
	return h, nil
}

// Live is the liveness probe: 200 {"live":true} for GET and HEAD.
func (h *Checker) Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !probeMethod(w, r) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	})
}

// Ready is the readiness probe: 200 with a Readiness when ready, else
// 503 with the same body saying which check failed.
func (h *Checker) Ready() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !probeMethod(w, r) {
			return
		}
		rd := h.Check(r.Context())
		status := http.StatusOK
		if !rd.Ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, rd)
	})
}

// Check runs the readiness checks, or returns the answer of a check that
// ran within CacheFor.
func (h *Checker) Check(ctx context.Context) Readiness {
	if rd, ok := h.cached(); ok {
		return rd
	}
	h.probing.Lock()
	defer h.probing.Unlock()
	if rd, ok := h.cached(); ok { // another caller probed while we waited
		return rd
	}
	rd := h.check(ctx)
	h.mu.Lock()
	h.last, h.lastAt, h.haveCache = rd, h.now(), true
	h.mu.Unlock()
	return rd
}

func (h *Checker) cached() (Readiness, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.haveCache {
		return Readiness{}, false
	}
	age := h.now().Sub(h.lastAt)
	return h.last, age >= 0 && age < h.cacheFor
}

func (h *Checker) check(ctx context.Context) Readiness {
	now := h.now()
	rd := Readiness{CheckedAt: now, Store: h.checkStore(ctx)}
	rd.Ready = rd.Store.OK
	if h.rec != nil {
		rc := &ReconcilerCheck{StaleAfterSeconds: h.stale.Seconds()}
		since := h.born
		if t, ok := h.rec.LastPass(); ok {
			rc.LastPass, since = &t, t
		}
		age := now.Sub(since)
		rc.AgeSeconds = age.Seconds()
		rc.OK = age <= h.stale
		rd.Reconciler = rc
		rd.Ready = rd.Ready && rc.OK
	}
	return rd
}

// checkStore reads the probe attempt under Timeout. The probe runs apart
// from the request's context, so that a caller who hangs up does not
// record the store as down for everyone reading the cache.
func (h *Checker) checkStore(ctx context.Context) StoreCheck {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout)
	defer cancel()
	start := time.Now()
	_, err := h.store.Get(ctx, probeID)
	c := StoreCheck{LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
	if err == nil || errors.Is(err, store.ErrNotFound) {
		c.OK = true
		return c
	}
	switch {
	case h.detail:
		c.Error = err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		c.Error = "timeout"
	default:
		c.Error = "unreachable"
	}
	return c
}

// probeMethod allows GET and HEAD, answering 405 otherwise with the
// RFC 9457 problem the kit's handlers answer.
func probeMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	status := http.StatusMethodNotAllowed
	writeBody(w, "application/problem+json", status, problem{"about:blank", http.StatusText(status), status})
	return false
}

// problem is an RFC 9457 problem without detail, its fields in the order
// handler writes them.
type problem struct {
	// Type is "about:blank": the status says it all.
	Type string `json:"type"`
	// Title is the status text.
	Title string `json:"title"`
	// Status is the HTTP status.
	Status int `json:"status"`
}

// writeJSON writes v as application/json.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, "application/json", status, v)
}

// writeBody writes v as JSON of the content type ct, never to be cached.
func writeBody(w http.ResponseWriter, ct string, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
