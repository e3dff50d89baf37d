package handler_test

import (
	"context"
	"encoding/json"
	"net/http"
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

// TestPreOrderReuseWindowEdge: an identical request is answered with the
// open attempt while it is younger than ReusePending (2 min by default)
// and starts a new attempt once it is exactly that old. Mutant killed
// (gremlins): preorder.go's `now.Sub(o.CreatedAt) >= p.reuse` to `>`
// (an attempt reused at exactly the window's end).
func TestPreOrderReuseWindowEdge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("REUSEEDGE1", mchA, 500)
	first := e.MustPreOrder(t, model.V2, "REUSEEDGE1", model.PayWeChat)
	req := map[string]any{"order_id": "REUSEEDGE1", "channel": "WECHAT"}

	e.Clock.Advance(2*time.Minute - time.Nanosecond)
	if r := e.PreOrder(t, model.V2, req); r.Status != http.StatusOK || r.OutTradeNo != first {
		t.Errorf("just inside the window: got %d %s, want 200 %s (reused)", r.Status, r.OutTradeNo, first)
	}
	e.Clock.Advance(time.Nanosecond)
	r := e.PreOrder(t, model.V2, req)
	if r.Status != http.StatusCreated || r.OutTradeNo == first || r.OutTradeNo == "" {
		t.Errorf("at the window's end: got %d %q, want 201 and a new attempt (not %s)", r.Status, r.OutTradeNo, first)
	}
	if list := e.attempts(t, "REUSEEDGE1"); len(list) != 2 {
		t.Errorf("attempts: got %d, want 2", len(list))
	}
}

// TestPreOrderReuseAtMinExpire: an open attempt with exactly MinExpire
// left is still handed out to an identical request; with less, a new
// attempt is made. Mutant killed (gremlins): preorder.go's
// `o.ExpiresAt.Sub(now) < MinExpire` to `<=` in the reuse window.
func TestPreOrderReuseAtMinExpire(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddPurchase("EXPEDGE1", handler.Purchase{MchID: mchA, Amount: 100, Body: "goods", Expire: 90 * time.Second})
	first := e.MustPreOrder(t, model.V2, "EXPEDGE1", model.PayWeChat)
	o := e.Get(t, first)
	req := map[string]any{"order_id": "EXPEDGE1", "channel": "WECHAT"}

	e.Clock.Advance(o.ExpiresAt.Sub(e.Clock.Now()) - handler.MinExpire) // exactly MinExpire left
	if r := e.PreOrder(t, model.V2, req); r.Status != http.StatusOK || r.OutTradeNo != first {
		t.Errorf("repeat with exactly MinExpire left: got %d %q, want 200 reusing %q", r.Status, r.OutTradeNo, first)
	}
	e.Clock.Advance(time.Nanosecond)
	if r := e.PreOrder(t, model.V2, req); r.Status != http.StatusCreated || r.OutTradeNo != handler.OutTradeNo("EXPEDGE1", 2) {
		t.Errorf("repeat with less than MinExpire left: got %d %q, want 201 %q", r.Status, r.OutTradeNo, handler.OutTradeNo("EXPEDGE1", 2))
	}
}

// TestPreOrderCheckoutWaitEdge: an identical request shares an attempt
// still waiting for its checkout only while the attempt is younger than
// checkoutWait (15 s); one exactly that old is given up and a new
// attempt made. Mutant killed (gremlins): preorder.go's `age <
// checkoutWait` to `<=` (a wait of nothing, answered with the old
// attempt and no checkout), and the wait `checkoutWait-age` turned
// into `checkoutWait+age` (ARITHMETIC_BASE and INVERT_NEGATIVES at
// preorder.go:617:48: a request kept waiting up to twice checkoutWait).
func TestPreOrderCheckoutWaitEdge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("WAITEDGE1", mchA, 500)
	now := e.Clock.Now()
	stuck := &store.Order{
		OutTradeNo: handler.OutTradeNo("WAITEDGE1", 1), BusinessID: "WAITEDGE1", Attempt: 1, MchID: mchA,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: 500, Status: store.Pending, CreatedAt: now, UpdatedAt: now,
	}
	if err := e.Mem.Create(context.Background(), stuck); err != nil {
		t.Fatal(err)
	}
	req := map[string]any{"order_id": "WAITEDGE1", "channel": "WECHAT"}

	e.Clock.Advance(15*time.Second - time.Nanosecond)
	// The request waits what is left of checkoutWait (1 ns) for the
	// checkout, not checkoutWait again: its reply comes within bound.
	replies := make(chan preOrderReply, 1)
	go func() { replies <- e.PreOrder(t, model.V2, req) }()
	select {
	case r := <-replies:
		if r.Status == http.StatusCreated || r.OutTradeNo != stuck.OutTradeNo {
			t.Errorf("just inside checkoutWait: got %d %q, want the recorded attempt %q shared", r.Status, r.OutTradeNo, stuck.OutTradeNo)
		}
	case <-time.After(bound):
		t.Fatalf("just inside checkoutWait: no reply within %v (the wait is what is left of checkoutWait, 1 ns)", bound)
	}
	e.Clock.Advance(time.Nanosecond)
	if r := e.PreOrder(t, model.V2, req); r.Status != http.StatusCreated || r.OutTradeNo != handler.OutTradeNo("WAITEDGE1", 2) {
		t.Errorf("at checkoutWait: got %d %q, want 201 %q", r.Status, r.OutTradeNo, handler.OutTradeNo("WAITEDGE1", 2))
	}
}

// getCountStore counts Get calls.
type getCountStore struct {
	store.OrderStore
	gets atomic.Int64
}

func (s *getCountStore) Get(ctx context.Context, otn string) (*store.Order, error) {
	s.gets.Add(1)
	return s.OrderStore.Get(ctx, otn)
}

// TestPreOrderCheckoutWaitPauses: a request waiting for another's
// checkout rereads the attempt with pauses that grow from 5 ms to 200 ms,
// not in a tight loop: over a 300 ms wait that is at most 6 reads (a
// loaded machine makes fewer, never more). Mutants killed (gremlins):
// preorder.go's first pause `5 * time.Millisecond` as `5 /
// time.Millisecond` (nothing) and the next `min(2*pause, …)` as
// `min(2/pause, …)` (nothing after the first): thousands of store reads.
func TestPreOrderCheckoutWaitPauses(t *testing.T) {
	t.Parallel()
	var gc *getCountStore
	e := newEnv(t, envOptions{wrap: func(m *memstore.Store) store.OrderStore {
		gc = &getCountStore{OrderStore: m}
		return gc
	}})
	e.AddOrder("WAITPAUSE1", mchA, 500)
	now := e.Clock.Now()
	stuck := &store.Order{
		OutTradeNo: handler.OutTradeNo("WAITPAUSE1", 1), BusinessID: "WAITPAUSE1", Attempt: 1, MchID: mchA,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: 500, Status: store.Pending, CreatedAt: now, UpdatedAt: now,
	}
	if err := e.Mem.Create(context.Background(), stuck); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(15*time.Second - 300*time.Millisecond)
	before := gc.gets.Load()
	if r := e.PreOrder(t, model.V2, map[string]any{"order_id": "WAITPAUSE1", "channel": "WECHAT"}); r.OutTradeNo != stuck.OutTradeNo {
		t.Fatalf("got %d %q, want the recorded attempt %q shared", r.Status, r.OutTradeNo, stuck.OutTradeNo)
	}
	if n := gc.gets.Load() - before; n > 6 {
		t.Errorf("store reads while waiting 300 ms for the checkout: %d, want at most 6 (pauses of 5, 10, 20, 40, 80, 160 ms)", n)
	}
}

// TestPreOrderGatewayBadParamDetail: a pre-order the gateway refuses as a
// bad request (20004) answers 422 with the gateway's code and msg in
// their own members and a fixed detail, not the client's error text, and
// records the attempt FAILED. Mutant killed (gremlins): preorder.go's
// `ge == nil` negated in gatewayFailed's bad-request case (the client's
// error text, with its call and state, shown as the detail).
func TestPreOrderGatewayBadParamDetail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("BADPARAM1", mchA, 300)
	e.OnPath.Rewrite(client.OpPreOrder, gatewaytest.Replace(map[string]string{"state": "FAIL", "code": "20004", "msg": "bad param"}))
	status, raw := e.Post(t, "/preorder/v2", "application/json", `{"order_id":"BADPARAM1","channel":"WECHAT"}`)
	var got map[string]any
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("reply %q: %v", raw, err)
	}
	if status != http.StatusUnprocessableEntity || got["detail"] != "the payment gateway refused the pre-order" ||
		got["code"] != "20004" || got["msg"] != "bad param" {
		t.Errorf("reply: got %d %s, want 422 with the fixed detail, code 20004 and msg", status, raw)
	}
	if o := e.Get(t, handler.OutTradeNo("BADPARAM1", 1)); o.Status != store.Failed {
		t.Errorf("attempt: got %s, want FAILED", o.Status)
	}
}
