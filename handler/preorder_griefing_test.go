package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// TestPreOrderInvalidRequestsRecordNothing: 100 JSPAY pre-orders for
// someone else's order that the client could never send (no sub_appid,
// no buyer_id) are refused with 422 before anything is recorded or sent,
// so the real buyer still gets attempt 1.
func TestPreOrderInvalidRequestsRecordNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const id = "GRIEF1"
	e.AddOrder(id, mchA, 500)
	for i := range 100 {
		status, body := e.Post(t, "/preorder/v2", "application/json", `{"order_id":"GRIEF1","channel":"WECHAT","trade_type":"JSPAY"}`)
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("invalid pre-order %d: got %d %s, want 422", i, status, body)
		}
	}
	if list := e.attempts(t, id); len(list) != 0 {
		t.Fatalf("after invalid requests: got %d attempts, want 0", len(list))
	}
	if _, ok := e.Sim.Order(handler.OutTradeNo(id, 1)); ok {
		t.Error("the gateway was called for an invalid request")
	}
	if otn := e.MustPreOrder(t, model.V2, id, model.PayWeChat); otn != handler.OutTradeNo(id, 1) {
		t.Errorf("the buyer's attempt: got %s, want %s", otn, handler.OutTradeNo(id, 1))
	}
}

// TestPreOrderConcurrentIdenticalMakeOneAttempt: 50 identical pre-orders
// at once, split over two handler instances sharing one store, make one
// attempt; everyone gets its checkout.
func TestPreOrderConcurrentIdenticalMakeOneAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const id = "DOUBLE1"
	e.AddOrder(id, mchA, 500)
	// A slow gateway keeps the first attempt in flight while the others
	// arrive.
	e.Sim.SetFaults(handler.OutTradeNo(id, 1), gatewaytest.Faults{PreOrderDelay: 300 * time.Millisecond})
	second, err := handler.NewPreOrder(handler.PreOrderConfig{
		Store: e.Store, Client: e.Clients[model.V2], Resolve: e.Resolve, Authorize: handler.AllowAnyone,
		NotifyURL: e.Server.URL + "/notify", Logger: quietLogger(), Now: e.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	other := httptest.NewServer(second)
	t.Cleanup(other.Close)
	urls := []string{e.Server.URL + "/preorder/v2", other.URL}

	const n = 50
	type reply struct {
		status int
		view   handler.OrderView
	}
	replies := make(chan reply, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body, _ := json.Marshal(map[string]string{"order_id": id, "channel": "WECHAT"})
			c := &http.Client{Timeout: 60 * time.Second}
			resp, err := c.Post(urls[i%2], "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var v handler.OrderView
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Errorf("reply %q: %v", raw, err)
			}
			replies <- reply{resp.StatusCode, v}
		}()
	}
	close(start)
	wg.Wait()
	close(replies)
	want := handler.OutTradeNo(id, 1)
	for r := range replies {
		if (r.status != http.StatusCreated && r.status != http.StatusOK) || r.view.OutTradeNo != want || r.view.CodeURL == "" {
			t.Errorf("got %d %s code_url=%q, want 200/201 for %s with its code_url", r.status, r.view.OutTradeNo, r.view.CodeURL, want)
		}
	}
	if list := e.attempts(t, id); len(list) != 1 {
		t.Errorf("attempts: got %d, want 1", len(list))
	}
}

// TestPreOrderLaterIdenticalReusesAttempt: a request identical to one
// already answered reuses its attempt (200) instead of making another.
func TestPreOrderLaterIdenticalReusesAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("REUSE1", mchA, 500)
	first := e.MustPreOrder(t, model.V2, "REUSE1", model.PayWeChat)
	r := e.PreOrder(t, model.V2, map[string]any{"order_id": "REUSE1", "channel": "WECHAT"})
	if r.Status != http.StatusOK || r.OutTradeNo != first {
		t.Errorf("second request: got %d %s, want 200 %s", r.Status, r.OutTradeNo, first)
	}
	if list := e.attempts(t, "REUSE1"); len(list) != 1 {
		t.Errorf("attempts: got %d, want 1", len(list))
	}
}

func (e *env) attempts(t testing.TB, businessID string) []*store.Order {
	t.Helper()
	list, err := e.Mem.ListByBusinessID(context.Background(), businessID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// hangUpStore cancels the request's context as soon as the attempt is
// recorded: the caller hung up between the record and the gateway call.
type hangUpStore struct {
	store.OrderStore
	hangUp context.CancelFunc
}

func (s *hangUpStore) Create(ctx context.Context, o *store.Order) error {
	err := s.OrderStore.Create(ctx, o)
	s.hangUp()
	return err
}

// TestPreOrderRecordedAttemptReachesGateway: a caller that hangs up once
// its attempt is recorded cannot leave an attempt that was never sent
// (each such attempt would use up one of the order's 99 numbers).
func TestPreOrderRecordedAttemptReachesGateway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("HANGUP1", mchA, 500)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hs := &hangUpStore{OrderStore: e.Mem, hangUp: cancel}
	po, err := handler.NewPreOrder(handler.PreOrderConfig{
		Store: hs, Client: e.Clients[model.V2], Resolve: e.Resolve, Authorize: handler.AllowAnyone,
		NotifyURL: e.Server.URL + "/notify", Logger: quietLogger(), Now: e.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(`{"order_id":"HANGUP1","channel":"WECHAT"}`))).WithContext(ctx)
	r.Header.Set("Content-Type", "application/json")
	po.ServeHTTP(httptest.NewRecorder(), r)
	otn := handler.OutTradeNo("HANGUP1", 1)
	if _, ok := e.Sim.Order(otn); !ok {
		t.Error("the recorded attempt never reached the gateway")
	}
	if o := e.Get(t, otn); o.CodeURL == "" {
		t.Errorf("attempt %s: no checkout recorded", otn)
	}
}

// TestPreOrderJoinerSeesRefusal: a request that joined an attempt the
// gateway then refused is told so (409, retry) at once, without a second
// attempt being made for it. The gateway holds its refusal until the
// joiner has read the attempt, so the second request is at the gateway's
// door while the first is, however long either takes to arrive.
func TestPreOrderJoinerSeesRefusal(t *testing.T) {
	t.Parallel()
	const id = "REFUSED1"
	otn := handler.OutTradeNo(id, 1)
	watch := &getWatch{otn: otn, read: make(chan struct{})}
	e := newEnv(t, envOptions{wrap: func(m *memstore.Store) store.OrderStore { watch.OrderStore = m; return watch }})
	e.AddOrder(id, mchA, 500)
	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release) // a test that fails early still lets the gateway answer
	e.Sim.SetFaults(otn, gatewaytest.Faults{PreOrderHold: hold, PreOrderStatus: http.StatusBadRequest})
	first := make(chan int, 1)
	go func() {
		status, _ := e.Post(t, "/preorder/v2", "application/json", `{"order_id":"REFUSED1","channel":"WECHAT"}`)
		first <- status
	}()
	// The second request must arrive while the first is at the gateway.
	for deadline := time.Now().Add(30 * time.Second); len(e.attempts(t, id)) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the first attempt was not recorded within 30s")
		}
		time.Sleep(time.Millisecond)
	}
	watch.arm()
	second := make(chan preOrderResult, 1)
	go func() {
		status, body := e.Post(t, "/preorder/v2", "application/json", `{"order_id":"REFUSED1","channel":"WECHAT"}`)
		second <- preOrderResult{status, body}
	}()
	// The first request waits at the gateway, so the attempt's next read
	// is the joiner's: only then does the gateway refuse.
	select {
	case <-watch.read:
	case <-time.After(30 * time.Second):
		t.Fatal("the second request did not read the attempt within 30s")
	}
	release()
	select {
	case r := <-second:
		if r.status != http.StatusConflict {
			t.Errorf("joiner: got %d %s, want 409", r.status, r.body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("second request did not finish within 30s")
	}
	select {
	case s := <-first:
		if s != http.StatusBadGateway {
			t.Errorf("first: got %d, want 502", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("first request did not finish within 30s")
	}
	if list := e.attempts(t, id); len(list) != 1 || list[0].Status != store.Failed {
		t.Errorf("attempts: got %d, want one FAILED", len(list))
	}
}

// preOrderResult is a pre-order request's status and body.
type preOrderResult struct {
	status int
	body   string
}

// getWatch closes read at the first Get of otn after arm.
type getWatch struct {
	store.OrderStore
	otn   string
	read  chan struct{}
	armed atomic.Bool
	once  sync.Once
}

func (w *getWatch) arm() { w.armed.Store(true) }

func (w *getWatch) Get(ctx context.Context, otn string) (*store.Order, error) {
	if otn == w.otn && w.armed.Load() {
		w.once.Do(func() { close(w.read) })
	}
	return w.OrderStore.Get(ctx, otn)
}

// TestPreOrderJSPayNeverShared: a JSPAY attempt's pay_info belongs to the
// buyer it was made for; another buyer's request for the same order gets
// an attempt of its own.
func TestPreOrderJSPayNeverShared(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("JSSHARE1", mchA, 500)
	var otns []string
	for _, buyer := range []string{"oBuyerOne", "oBuyerTwo"} {
		r := e.PreOrder(t, model.V2, map[string]any{"order_id": "JSSHARE1", "channel": "WECHAT", "trade_type": "JSPAY",
			"sub_appid": "wx0123456789", "buyer_id": buyer})
		if r.Status != http.StatusCreated || r.PayInfo == "" {
			t.Fatalf("%s: got %d %+v, want 201 with pay_info", buyer, r.Status, r)
		}
		otns = append(otns, r.OutTradeNo)
	}
	if otns[0] == otns[1] {
		t.Errorf("two buyers share attempt %s", otns[0])
	}
}
