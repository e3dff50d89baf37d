package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// preOrderWith is a PreOrder on e's store and clock with cfg changed by
// mutate, on its own HTTP server; it returns the server's URL.
func (e *env) preOrderWith(t testing.TB, mutate func(*handler.PreOrderConfig)) string {
	t.Helper()
	cfg := handler.PreOrderConfig{
		Store: e.Store, Client: e.Clients[model.V2], Resolve: e.Resolve, Authorize: handler.AllowAnyone,
		NotifyURL: e.Server.URL + "/notify", Logger: quietLogger(), Now: e.Clock.Now,
	}
	mutate(&cfg)
	po, err := handler.NewPreOrder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(po)
	t.Cleanup(srv.Close)
	return srv.URL
}

// rawReply is a pre-order reply with its headers.
type rawReply struct {
	preOrderReply
	header http.Header
	body   string
}

func postJSON(t testing.TB, target string, body map[string]string) rawReply {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 60 * time.Second}
	resp, err := c.Post(target, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := rawReply{header: resp.Header, body: string(raw)}
	if err := unmarshalReply(raw, &r.preOrderReply); err != nil {
		t.Fatalf("pre-order reply %q: %v", raw, err)
	}
	r.Status = resp.StatusCode
	r.CType = resp.Header.Get("Content-Type")
	return r
}

// unmarshalReply reads a success or a problem reply into r: a problem's
// numeric status does not fit the view's status string, and is taken from
// the HTTP reply instead.
func unmarshalReply(raw []byte, r *preOrderReply) error {
	err := json.Unmarshal(raw, r)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field == "status" {
		return nil
	}
	return err
}

// tokenAuth lets through a request whose ?token= is "tok-" + the order id.
func tokenAuth(r *http.Request, orderID string) bool {
	return r.URL.Query().Get("token") == "tok-"+orderID
}

// TestPreOrderAuthorizeRefusedCostsNothing proves G17: a request Authorize
// refuses is answered 403 before Resolve runs, with no row recorded and
// no gateway call, for every trade type.
func TestPreOrderAuthorizeRefusedCostsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const id = "AUTH1"
	e.AddOrder(id, mchA, 500)
	var resolved, asked atomic.Int32
	var gotOrder atomic.Value
	base := e.preOrderWith(t, func(c *handler.PreOrderConfig) {
		c.Authorize = func(r *http.Request, orderID string) bool {
			asked.Add(1)
			gotOrder.Store(orderID)
			return tokenAuth(r, orderID)
		}
		c.Resolve = func(ctx context.Context, id string) (handler.Purchase, error) {
			resolved.Add(1)
			return e.Resolve(ctx, id)
		}
	})
	for _, tc := range []struct{ name, query string }{{"no token", ""}, {"wrong token", "?token=tok-AUTH2"}} {
		for _, body := range []map[string]string{
			{"order_id": id, "channel": "WECHAT"},
			jsBody(id, "WECHAT", map[string]string{"sub_appid": "wx0123456789", "buyer_id": "oStranger"}),
		} {
			r := postJSON(t, base+tc.query, body)
			if r.Status != http.StatusForbidden || r.CType != "application/problem+json" {
				t.Errorf("%s %s: got %d %s %s, want 403 problem", tc.name, body["trade_type"], r.Status, r.CType, r.body)
			}
		}
	}
	if asked.Load() == 0 || gotOrder.Load() != id {
		t.Errorf("Authorize: asked %d times for %v, want the posted order %s", asked.Load(), gotOrder.Load(), id)
	}
	if n := resolved.Load(); n != 0 {
		t.Errorf("Resolve ran %d times for refused requests, want 0", n)
	}
	if list := e.attempts(t, id); len(list) != 0 {
		t.Errorf("refused requests recorded %d attempts, want 0", len(list))
	}
	if n := e.gatewayCalls(id); n != 0 {
		t.Errorf("refused requests made %d gateway calls, want 0", n)
	}
	if r := postJSON(t, base+"?token=tok-"+id, map[string]string{"order_id": id, "channel": "WECHAT"}); r.Status != http.StatusCreated {
		t.Errorf("the buyer: got %d %s, want 201", r.Status, r.body)
	}
}

// TestPreOrderStrangerCannotBlockBuyer: 100 JSPAY pre-orders with as many
// buyer_ids by someone without the buyer's token start nothing, and the
// buyer then pays as if they had never been sent.
func TestPreOrderStrangerCannotBlockBuyer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const id = "STRANGER1"
	e.AddOrder(id, mchA, 500)
	base := e.preOrderWith(t, func(c *handler.PreOrderConfig) { c.Authorize = tokenAuth })
	for i := range 100 {
		r := postJSON(t, base, jsBody(id, "WECHAT", map[string]string{"sub_appid": "wx0123456789", "buyer_id": fmt.Sprintf("oStranger%03d", i)}))
		if r.Status != http.StatusForbidden || r.PayInfo != "" {
			t.Fatalf("stranger %d: got %d %s, want 403 without pay_info", i, r.Status, r.body)
		}
	}
	r := postJSON(t, base+"?token=tok-"+id, jsBody(id, "WECHAT", map[string]string{"sub_appid": "wx0123456789", "buyer_id": "oTheBuyer"}))
	if r.Status != http.StatusCreated || r.PayInfo == "" || r.OutTradeNo != handler.OutTradeNo(id, 1) {
		t.Errorf("the buyer: got %d %s, want 201 with pay_info for attempt 1", r.Status, r.body)
	}
}

// TestPreOrderDoubleClicksDoNotExhaust: a buyer who clicks again and again,
// at once or one after another, and switches between two channels, makes
// one attempt per channel and is never refused; over a long life an order
// may have any number of attempts (past the two-digit suffix), as long as
// few are open at once.
func TestPreOrderDoubleClicksDoNotExhaust(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const id = "CLICKS1"
	e.AddOrder(id, mchA, 500)
	// MaxOpen is exactly the attempts the clicks need: every click after
	// them must reuse, never count.
	three := func(c *handler.PreOrderConfig) { c.MaxOpen = 3 }
	urls := []string{e.preOrderWith(t, three), e.preOrderWith(t, three)}
	bodies := make([]map[string]string, 40)
	for i := range bodies {
		bodies[i] = jsBody(id, "WECHAT", map[string]string{"sub_appid": "wx0123456789", "buyer_id": "oClicker"})
	}
	for _, r := range postAll(t, urls, bodies, make([]int, len(bodies))) {
		if r.Status != http.StatusCreated && r.Status != http.StatusOK {
			t.Errorf("concurrent click: got %d %+v, want 200/201", r.Status, r.preOrderReply)
		}
	}
	for i := range 30 {
		ch := []string{"WECHAT", "ALIPAY"}[i%2]
		r := postJSON(t, urls[i%2], map[string]string{"order_id": id, "channel": ch})
		if r.Status != http.StatusCreated && r.Status != http.StatusOK {
			t.Fatalf("click %d (%s): got %d %s, want 200/201", i, ch, r.Status, r.body)
		}
	}
	if list := e.attempts(t, id); len(list) != 3 {
		t.Errorf("attempts after the clicks: got %d, want 3 (one JSPAY, one per NATIVE channel)", len(list))
	}

	// A long life: a new attempt every 45 minutes (past the reuse window)
	// keeps fewer than three open in any two hours, past attempt 99.
	const lifeID = "LIFE1"
	e.AddOrder(lifeID, mchA, 500)
	for i := 1; i <= 110; i++ {
		r := postJSON(t, urls[0], map[string]string{"order_id": lifeID, "channel": "WECHAT"})
		if r.Status != http.StatusCreated || r.OutTradeNo != handler.OutTradeNo(lifeID, i) || !validOutTradeNo(r.OutTradeNo) {
			t.Fatalf("attempt %d: got %d %q %s, want 201 %q", i, r.Status, r.OutTradeNo, r.body, handler.OutTradeNo(lifeID, i))
		}
		e.Clock.Advance(45 * time.Minute)
	}
}

// TestPreOrderOpenBound: with MaxOpen attempts open, one more is refused
// with 429, Retry-After (when the oldest stops counting) and a problem
// naming the bound, recording nothing and calling no one; a slot frees when
// an attempt ends or ages past OpenFor.
func TestPreOrderOpenBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const id = "BOUND1"
	e.AddOrder(id, mchA, 500)
	base := e.preOrderWith(t, func(c *handler.PreOrderConfig) {
		c.MaxOpen, c.OpenFor, c.ReusePending = 3, time.Hour, -1
	})
	body := map[string]string{"order_id": id, "channel": "WECHAT"}
	for i := 1; i <= 3; i++ {
		if r := postJSON(t, base, body); r.Status != http.StatusCreated {
			t.Fatalf("attempt %d: got %d %s, want 201", i, r.Status, r.body)
		}
		e.Clock.Advance(10 * time.Minute)
	}
	r := postJSON(t, base, body)
	if r.Status != http.StatusTooManyRequests || r.CType != "application/problem+json" {
		t.Fatalf("fourth attempt: got %d %s %s, want 429 problem", r.Status, r.CType, r.body)
	}
	// The oldest was made 30 min ago and counts for an hour.
	if got := r.header.Get("Retry-After"); got != strconv.Itoa(30*60) {
		t.Errorf("Retry-After: got %q, want %q", got, "1800")
	}
	if !strings.Contains(r.Detail, "3 payment attempts open") || !strings.Contains(r.Detail, "1h0m0s") {
		t.Errorf("detail %q does not name the bound (3 within 1h0m0s)", r.Detail)
	}
	if n := len(e.attempts(t, id)); n != 3 {
		t.Errorf("attempts after the refusal: got %d, want 3", n)
	}
	if n := e.gatewayCalls(id); n != 3 {
		t.Errorf("gateway calls after the refusal: got %d, want 3", n)
	}

	// An attempt that ends frees its slot.
	if err := e.Mem.Finish(context.Background(), handler.OutTradeNo(id, 2), store.Closed, "closed by the buyer", e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := postJSON(t, base, body); r.Status != http.StatusCreated || r.OutTradeNo != handler.OutTradeNo(id, 4) {
		t.Errorf("after one closed: got %d %s, want 201 attempt 4", r.Status, r.body)
	}
	if r := postJSON(t, base, body); r.Status != http.StatusTooManyRequests {
		t.Errorf("full again: got %d %s, want 429", r.Status, r.body)
	}
	// So does an attempt older than OpenFor.
	e.Clock.Advance(30 * time.Minute)
	if r := postJSON(t, base, body); r.Status != http.StatusCreated || r.OutTradeNo != handler.OutTradeNo(id, 5) {
		t.Errorf("after the oldest aged out: got %d %s, want 201 attempt 5", r.Status, r.body)
	}
}

// TestPreOrderOpenBoundRace: 40 requests that each want a new attempt,
// at once over two instances sharing a store, never open more than
// MaxOpen; every success is an attempt and the rest are told why.
func TestPreOrderOpenBoundRace(t *testing.T) {
	t.Parallel()
	// The first ten requests all read the order's attempts before any of
	// them records one: each has counted none open.
	gate := &listGate{want: 10, ready: make(chan struct{})}
	e := newEnv(t, envOptions{wrap: func(m *memstore.Store) store.OrderStore {
		gate.OrderStore = m
		return gate
	}})
	const id = "RACE1"
	e.AddOrder(id, mchA, 500)
	cfg := func(c *handler.PreOrderConfig) { c.MaxOpen = 5 }
	urls := []string{e.preOrderWith(t, cfg), e.preOrderWith(t, cfg)}
	bodies := make([]map[string]string, 40)
	who := make([]int, len(bodies))
	for i := range bodies {
		// Another buyer each: nothing may be shared, each wants an attempt.
		bodies[i] = jsBody(id, "WECHAT", map[string]string{"sub_appid": "wx0123456789", "buyer_id": fmt.Sprintf("oRacer%02d", i)})
		who[i] = i
	}
	made := map[string]bool{}
	for _, r := range postAll(t, urls, bodies, who) {
		switch r.Status {
		case http.StatusCreated:
			made[r.OutTradeNo] = true
		case http.StatusTooManyRequests, http.StatusConflict:
		default:
			t.Errorf("buyer %d: got %d %+v, want 201, 429 or 409", r.buyer, r.Status, r.preOrderReply)
		}
	}
	list := e.attempts(t, id)
	if len(list) > 5 || len(list) != len(made) {
		t.Fatalf("attempts: got %d rows for %d successes, want the same, at most 5", len(list), len(made))
	}
	// Topped up one by one, the order holds exactly five.
	for i := 0; len(e.attempts(t, id)) < 5 && i < 5; i++ {
		postJSON(t, urls[i%2], jsBody(id, "WECHAT", map[string]string{"sub_appid": "wx0123456789", "buyer_id": fmt.Sprintf("oLate%d", i)}))
	}
	r := postJSON(t, urls[1], jsBody(id, "WECHAT", map[string]string{"sub_appid": "wx0123456789", "buyer_id": "oOneMore"}))
	if n := len(e.attempts(t, id)); n != 5 || r.Status != http.StatusTooManyRequests {
		t.Errorf("after topping up: got %d attempts and %d, want 5 and 429", n, r.Status)
	}
}

// listGate holds the first want ListByBusinessID calls until all of them
// have read (at most 10 s: the gate makes the race likely, the test's
// assertions hold without it).
type listGate struct {
	store.OrderStore
	want    int32
	arrived atomic.Int32
	ready   chan struct{}
}

func (g *listGate) ListByBusinessID(ctx context.Context, id string) ([]*store.Order, error) {
	list, err := g.OrderStore.ListByBusinessID(ctx, id)
	switch n := g.arrived.Add(1); {
	case n == g.want:
		close(g.ready)
	case n < g.want:
		select {
		case <-g.ready:
		case <-time.After(10 * time.Second):
		}
	}
	return list, err
}
