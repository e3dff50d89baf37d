package handler_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// pgLikeStore counts the calls that name an order and, like PostgreSQL,
// fails on a NUL byte instead of reporting the order missing.
type pgLikeStore struct {
	store.OrderStore
	calls atomic.Int32
}

var errNUL = errors.New(`invalid byte sequence for encoding "UTF8": 0x00`)

func (s *pgLikeStore) check(key string) error {
	s.calls.Add(1)
	if strings.ContainsRune(key, 0) {
		return errNUL
	}
	return nil
}

func (s *pgLikeStore) Get(ctx context.Context, otn string) (*store.Order, error) {
	if err := s.check(otn); err != nil {
		return nil, err
	}
	return s.OrderStore.Get(ctx, otn)
}

func (s *pgLikeStore) ListByBusinessID(ctx context.Context, id string) ([]*store.Order, error) {
	if err := s.check(id); err != nil {
		return nil, err
	}
	return s.OrderStore.ListByBusinessID(ctx, id)
}

func (s *pgLikeStore) Create(ctx context.Context, o *store.Order) error {
	if err := s.check(o.OutTradeNo + o.BusinessID); err != nil {
		return err
	}
	return s.OrderStore.Create(ctx, o)
}

// junkEnv is an env whose store is a pgLikeStore and whose handler logs
// land in the returned buffer.
func junkEnv(t *testing.T) (*env, *pgLikeStore, fmt.Stringer) {
	t.Helper()
	ps := &pgLikeStore{}
	logs := &syncWriter{w: new(bytes.Buffer)}
	e := newEnv(t, envOptions{logOut: logs,
		wrap: func(m *memstore.Store) store.OrderStore { ps.OrderStore = m; return ps }})
	return e, ps, logs
}

// syncWriter serialises writes from the handlers' goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.String()
}

func textLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func noErrorLogs(t *testing.T, logs fmt.Stringer) {
	t.Helper()
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("junk input logged at ERROR:\n%s", logs.String())
	}
}

// TestJunkOutTradeNoInNotification: a NUL in out_trade_no, even in a
// correctly signed message, answers fail (400) without a store call.
func TestJunkOutTradeNoInNotification(t *testing.T) {
	t.Parallel()
	e, ps, logs := junkEnv(t)
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{MchID: mchA, OutTradeNo: "JUNK\x0001", TotalFee: 100}, keyA, "")
	if err != nil {
		t.Fatal(err)
	}
	status, body := e.Post(t, "/notify", formType, v.Encode())
	if status != http.StatusBadRequest || body != "fail" {
		t.Errorf("got %d %q, want 400 fail", status, body)
	}
	if n := ps.calls.Load(); n != 0 {
		t.Errorf("store calls: got %d, want 0", n)
	}
	noErrorLogs(t, logs)
}

// TestJunkOrderIDInPreOrder: a NUL in order_id answers 400 before the
// resolver or the store sees it.
func TestJunkOrderIDInPreOrder(t *testing.T) {
	t.Parallel()
	e, ps, logs := junkEnv(t)
	e.AddOrder("JUNK\x00X", mchA, 100)
	status, body := e.Post(t, "/preorder/"+string(model.V2), "application/json", `{"order_id":"JUNK\u0000X","channel":"WECHAT"}`)
	if status != http.StatusBadRequest {
		t.Errorf("got %d %s, want 400", status, body)
	}
	if n := ps.calls.Load(); n != 0 {
		t.Errorf("store calls: got %d, want 0", n)
	}
	noErrorLogs(t, logs)
}

// TestJunkInStatus: a NUL in the path's out_trade_no or in order_id
// answers 400 without a store call or an ERROR line.
func TestJunkInStatus(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"/orders/JUNK%0001", "/orders?out_trade_no=JUNK%0001", "/orders?order_id=JUNK%00X"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			ps := &pgLikeStore{OrderStore: memstore.New()}
			var logs bytes.Buffer
			st, err := handler.NewStatus(handler.StatusConfig{Store: ps, Logger: textLogger(&logs)})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("GET /orders/{out_trade_no}", st)
			mux.Handle("GET /orders", st)
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
			if w.Code != http.StatusBadRequest {
				t.Errorf("got %d %s, want 400", w.Code, w.Body)
			}
			if n := ps.calls.Load(); n != 0 {
				t.Errorf("store calls: got %d, want 0", n)
			}
			noErrorLogs(t, &logs)
		})
	}
}
