package handler_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// brokenReads fails the reads the Status handler and the Reconciler make.
type brokenReads struct{ *memstore.Store }

func (brokenReads) Get(context.Context, string) (*store.Order, error) { return nil, errInjected }
func (brokenReads) Claim(context.Context, store.ClaimRequest) ([]store.Claim, error) {
	return nil, errInjected
}

// msgLog collects log messages and signals each one.
type msgLog struct {
	mu   sync.Mutex
	msgs []string
	seen chan string
}

func (l *msgLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *msgLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	select {
	case l.seen <- r.Message:
	default:
	}
	return nil
}
func (l *msgLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *msgLog) WithGroup(string) slog.Handler      { return l }

func (l *msgLog) has(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if m == msg {
			return true
		}
	}
	return false
}

// TestOneLogger proves the kit's logging rule: a nil Logger in any config
// means slog.Default(), so a host that sets the default once gets every
// handler's lines in one place, even when it gave the Settler a logger of
// its own (which then receives only the Settler's lines). Not parallel:
// it replaces the process's default logger.
func TestOneLogger(t *testing.T) {
	kit := &msgLog{seen: make(chan string, 16)}
	old := slog.Default()
	slog.SetDefault(slog.New(kit))
	t.Cleanup(func() { slog.SetDefault(old) })

	e := newEnv(t, envOptions{})
	st := brokenReads{memstore.New()}
	settler, err := handler.NewSettler(handler.SettlerConfig{Store: st, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	notify, err := handler.NewNotify(handler.NotifyConfig{Settler: settler, Keys: handlertest.Keyring()})
	if err != nil {
		t.Fatal(err)
	}
	preorder, err := handler.NewPreOrder(handler.PreOrderConfig{Store: st, Client: e.Clients[model.V2],
		Resolve: e.Resolve, Authorize: handler.AllowAnyone, NotifyURL: "https://shop.example/notify"})
	if err != nil {
		t.Fatal(err)
	}
	status, err := handler.NewStatus(handler.StatusConfig{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: settler, Store: st, Client: e.Clients[model.V2]})
	if err != nil {
		t.Fatal(err)
	}
	slog.SetDefault(old) // the rule is about the default when constructed

	serve := func(h http.Handler, method, target, ct, body string) {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	serve(notify, http.MethodPost, "/pay/notify", formType, "result_code=SUCCESS")
	serve(preorder, http.MethodPost, "/pay/preorder", "application/json", `{"order_id":`)
	serve(status, http.MethodGet, "/pay/orders?out_trade_no=LOGS00001", "", "")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	timeout := time.After(30 * time.Second)
	for !kit.has("handler: reconcile pass failed") {
		select {
		case <-kit.seen:
		case <-timeout:
			t.Error("no reconciler line within 30 s")
			kit.seen = nil
		}
		if kit.seen == nil {
			break
		}
	}
	cancel()
	<-done

	for _, msg := range []string{
		"handler: notification failed",
		"handler: pre-order refused",
		"handler: status lookup failed",
		"handler: reconcile pass failed",
	} {
		if !kit.has(msg) {
			t.Errorf("%q did not reach the default logger; got %q", msg, kit.msgs)
		}
	}
}
