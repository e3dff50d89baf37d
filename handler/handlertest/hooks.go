package handlertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
)

// Clock is a clock the test sets, shared by the handlers and the
// reconciler. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at the real time now.
func NewClock() *Clock { return &Clock{t: time.Now()} }

// Now returns the Clock's time; it is a handler's Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the Clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Hooks is a fulfilment hook that counts its calls per attempt and
// notices two calls for one attempt at once. A call succeeds when the
// attempt it is given is PAID, unless the function given to Decide says
// otherwise. It is safe for concurrent use.
type Hooks struct {
	mu      sync.Mutex
	calls   map[string]int
	ok      map[string]int // calls that returned nil
	running map[string]bool
	overlap int
	decide  func(o store.Order, call int) error
}

// NewHooks returns Hooks with no calls.
func NewHooks() *Hooks {
	return &Hooks{calls: map[string]int{}, ok: map[string]int{}, running: map[string]bool{}}
}

// Decide makes f decide every later call's result: f learns the attempt
// and which call for it this is (from 1), and its error is the call's.
func (h *Hooks) Decide(f func(o store.Order, call int) error) {
	h.mu.Lock()
	h.decide = f
	h.mu.Unlock()
}

// Fulfill is the hook: a SettlerConfig.Fulfill.
func (h *Hooks) Fulfill(ctx context.Context, o store.Order) error {
	h.mu.Lock()
	if h.running[o.OutTradeNo] {
		h.overlap++
	}
	h.running[o.OutTradeNo] = true
	h.calls[o.OutTradeNo]++
	n := h.calls[o.OutTradeNo]
	decide := h.decide
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.running[o.OutTradeNo] = false
		h.mu.Unlock()
	}()
	if decide != nil {
		if err := decide(o, n); err != nil {
			return err
		}
	}
	if o.Status != store.Paid {
		return fmt.Errorf("hook saw status %s", o.Status)
	}
	h.mu.Lock()
	h.ok[o.OutTradeNo]++
	h.mu.Unlock()
	return nil
}

// Calls returns how many times the hook ran for attempt otn.
func (h *Hooks) Calls(otn string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[otn]
}

// OK returns how many of those calls returned nil.
func (h *Hooks) OK(otn string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ok[otn]
}

// Overlaps returns how many calls began while another for the same
// attempt was running: 0 unless exclusion failed.
func (h *Hooks) Overlaps() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.overlap
}

// Recorder keeps the alerts and events of a Settler (its Alert and
// Observe). It is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	alerts []handler.Alert
	events []handler.Event
}

// Alert keeps a; it is a SettlerConfig.Alert.
func (r *Recorder) Alert(_ context.Context, a handler.Alert) {
	r.mu.Lock()
	r.alerts = append(r.alerts, a)
	r.mu.Unlock()
}

// Observe keeps e; it is a SettlerConfig.Observe.
func (r *Recorder) Observe(e handler.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Alerts returns the alerts kept so far, oldest first.
func (r *Recorder) Alerts() []handler.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.alerts)
}

// Events returns the events kept so far, oldest first.
func (r *Recorder) Events() []handler.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Count returns how many of the events kept so far have outcome o.
func (r *Recorder) Count(o handler.Outcome) int {
	return count(r, &r.events, func(e handler.Event) bool { return e.Outcome == o })
}

// Alerted returns how many of the alerts kept so far are of kind k.
func (r *Recorder) Alerted(k handler.AlertKind) int {
	return count(r, &r.alerts, func(a handler.Alert) bool { return a.Kind == k })
}

// count counts the elements of *xs, read under r's lock, that match.
func count[T any](r *Recorder, xs *[]T, match func(T) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range *xs {
		if match(x) {
			n++
		}
	}
	return n
}
