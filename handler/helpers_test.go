package handler_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// The Host's merchants and keys, by the short names the tests use.
const (
	mchA, mchB, mchGone = handlertest.MchA, handlertest.MchB, handlertest.MchGone
	keyA, keyB          = handlertest.KeyA, handlertest.KeyB
	agentID, agentKey   = handlertest.AgentID, handlertest.AgentKey
	formType            = handlertest.FormType
)

var merchants = handlertest.Merchants()

// envOptions shape an env; zero values are the defaults (see
// handlertest.HostConfig, whose fields they set).
type envOptions struct {
	wrap          func(*memstore.Store) store.OrderStore
	deadline      time.Duration
	timeScale     float64
	faults        func(outTradeNo string) gatewaytest.Faults
	clientTimeout time.Duration
	logOut        io.Writer
	// autoRefund turns SettlerConfig.AutoRefund on, with env.auto.
	autoRefund bool
	memo       int
	simClock   bool
	inbox      store.InboxStore
	events     store.EventStore
}

// env is a handlertest.Host (the simulator, a client per protocol
// version, one store, and the kit's handlers on a real HTTP server) with
// the helpers of this package's tests.
type env struct {
	*handlertest.Host
	auto *refund.Refunder
}

func newEnv(t testing.TB, opt envOptions) *env {
	t.Helper()
	e := &env{}
	cfg := handlertest.HostConfig{
		Wrap: opt.wrap, Deadline: opt.deadline, TimeScale: opt.timeScale, Faults: opt.faults,
		ClientTimeout: opt.clientTimeout, LogOut: opt.logOut, DuplicateMemo: opt.memo,
		SimClock: opt.simClock, Inbox: opt.inbox, Events: opt.events,
	}
	if opt.autoRefund {
		cfg.AutoRefund = func(h *handlertest.Host) handler.Remedy {
			e.Host = h
			e.auto = e.refunder(t)
			return e.auto
		}
	}
	e.Host = handlertest.NewHost(t, cfg)
	return e
}

// refunder returns a Refunder on e's store and v2 client (AutoRefund's).
func (e *env) refunder(t testing.TB) *refund.Refunder {
	t.Helper()
	r, err := refund.New(refund.Config{
		Store: e.Mem, Client: e.Clients[model.V2], Alert: e.Rec.Alert,
		Logger: quietLogger(), Now: e.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var quietLogger = handlertest.QuietLogger

func (e *env) reconciler(t testing.TB, v model.Version) *handler.Reconciler {
	t.Helper()
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[v], Logger: quietLogger(), Now: e.Clock.Now,
		Concurrency: 8, Batch: 1000, Scheduler: e.Mem,
		Clients: []*client.Client{e.Clients[model.V1], e.Clients[model.V2]},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// preOrderReply is the pre-order handler's JSON (success or problem).
type preOrderReply = handlertest.PreOrderReply

var (
	signedNotification = handlertest.SignedNotification
	keyFor             = handlertest.KeyFor
)

// failingStore fails Settle a given number of times.
type failingStore struct {
	store.OrderStore
	settleFails atomic.Int32
}

var errInjected = errors.New("injected store failure")

func (s *failingStore) Settle(ctx context.Context, otn string, p store.Payment, now time.Time) (bool, error) {
	if s.settleFails.Add(-1) >= 0 {
		return false, errInjected
	}
	return s.OrderStore.Settle(ctx, otn, p, now)
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustParse(t testing.TB, body string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func httptestRecorder(h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
