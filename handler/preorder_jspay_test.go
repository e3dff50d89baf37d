package handler_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
)

// secondInstance is another PreOrder on e's store and clock, on its own
// HTTP server: a second instance of the host, sharing only the store.
func (e *env) secondInstance(t testing.TB) string {
	t.Helper()
	po, err := handler.NewPreOrder(handler.PreOrderConfig{
		Store: e.Store, Client: e.Clients[model.V2], Resolve: e.Resolve, Authorize: handler.AllowAnyone,
		NotifyURL: e.Server.URL + "/notify", Logger: quietLogger(), Now: e.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(po)
	t.Cleanup(srv.Close)
	return srv.URL
}

// jsReply is one reply to a concurrent JSPAY pre-order, with the buyer
// (index into the test's buyers) whose request it answers.
type jsReply struct {
	buyer int
	preOrderReply
}

// postAll posts every body at once, body i to urls[i%len(urls)], and
// returns the replies; each request is bounded by a client timeout.
func postAll(t *testing.T, urls []string, bodies []map[string]string, buyerOf []int) []jsReply {
	t.Helper()
	replies := make(chan jsReply, len(bodies))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			b, _ := json.Marshal(body)
			c := &http.Client{Timeout: 60 * time.Second}
			resp, err := c.Post(urls[i%len(urls)], "application/json", bytes.NewReader(b))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var r preOrderReply
			if err := unmarshalReply(raw, &r); err != nil {
				t.Errorf("reply %q: %v", raw, err)
				return
			}
			r.Status = resp.StatusCode
			replies <- jsReply{buyerOf[i], r}
		}()
	}
	close(start)
	wg.Wait()
	close(replies)
	var out []jsReply
	for r := range replies {
		out = append(out, r)
	}
	if len(out) != len(bodies) {
		t.Fatalf("got %d replies, want %d", len(out), len(bodies))
	}
	return out
}

// gatewayCalls counts the attempts of business order id the simulator
// was asked to pre-order (it refuses a repeated out_trade_no, so one
// order is one call that got through).
func (e *env) gatewayCalls(id string) int {
	n := 0
	for k := 1; k <= 99; k++ {
		if _, ok := e.Sim.Order(handler.OutTradeNo(id, k)); ok {
			n++
		}
	}
	return n
}

// jsBody is a JSPAY pre-order request for order id by a buyer.
func jsBody(id, channel string, buyer map[string]string) map[string]string {
	b := map[string]string{"order_id": id, "channel": channel, "trade_type": "JSPAY"}
	for k, v := range buyer {
		b[k] = v
	}
	return b
}

// TestPreOrderJSPayConcurrentSameBuyerMakeOneAttempt: 50 identical JSPAY
// pre-orders by one buyer (a double-clicking WeChat cashier), split over
// two instances sharing one store, make one attempt and one gateway call,
// and every reply carries that attempt's pay_info.
func TestPreOrderJSPayConcurrentSameBuyerMakeOneAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const id = "JSDOUBLE1"
	e.AddOrder(id, mchA, 500)
	// A slow gateway makes it likelier that requests join the attempt in
	// flight rather than reuse the answered one; the assertions hold
	// either way.
	e.Sim.SetFaults(handler.OutTradeNo(id, 1), gatewaytest.Faults{PreOrderDelay: 300 * time.Millisecond})
	urls := []string{e.Server.URL + "/preorder/v2", e.secondInstance(t)}
	buyer := map[string]string{"sub_appid": "wx0123456789abcdef", "buyer_id": "oBuyerDoubleClick"}
	const n = 50
	bodies := make([]map[string]string, n)
	who := make([]int, n)
	for i := range bodies {
		bodies[i] = jsBody(id, "WECHAT", buyer)
	}
	replies := postAll(t, urls, bodies, who)

	list := e.attempts(t, id)
	if len(list) != 1 {
		t.Fatalf("attempts: got %d, want 1", len(list))
	}
	if got := e.gatewayCalls(id); got != 1 {
		t.Errorf("gateway pre-order calls: got %d, want 1", got)
	}
	want := list[0]
	if want.PayInfo == "" {
		t.Fatalf("attempt %s: no pay_info recorded", want.OutTradeNo)
	}
	created := 0
	for _, r := range replies {
		if r.Status == http.StatusCreated {
			created++
		}
		if (r.Status != http.StatusCreated && r.Status != http.StatusOK) || r.OutTradeNo != want.OutTradeNo || r.PayInfo != want.PayInfo {
			t.Errorf("got %d %s pay_info=%q, want 200/201 for %s with pay_info %q", r.Status, r.OutTradeNo, r.PayInfo, want.OutTradeNo, want.PayInfo)
		}
	}
	if created != 1 {
		t.Errorf("201 replies: got %d, want 1 (the others share the attempt)", created)
	}
}

// TestPreOrderJSPayConcurrentTwoBuyers: JSPAY pre-orders for one order by
// two buyers at once, over two instances, make one attempt per buyer, and
// each reply carries the pay_info made for its own buyer, never the
// other's, for buyers that differ in any one of the buyer fields.
func TestPreOrderJSPayConcurrentTwoBuyers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, id, channel string
		buyers            [2]map[string]string
		// appID says each buyer's pay_info must name its sub_appid.
		appID bool
	}{
		{"sub_appid", "JSTWO1", "WECHAT", [2]map[string]string{
			{"sub_appid": "wxaaaaaaaaaaaaaaa1", "buyer_id": "oSameBuyer"},
			{"sub_appid": "wxbbbbbbbbbbbbbbb2", "buyer_id": "oSameBuyer"}}, true},
		{"buyer_id", "JSTWO2", "WECHAT", [2]map[string]string{
			{"sub_appid": "wx0123456789abcdef", "buyer_id": "oBuyerOne"},
			{"sub_appid": "wx0123456789abcdef", "buyer_id": "oBuyerTwo"}}, false},
		{"buyer_id/sub_appid boundary", "JSTWO3", "WECHAT", [2]map[string]string{
			{"sub_appid": "wx0123456789abcdef", "buyer_id": "oBuyer"},
			{"sub_appid": "wx0123456789abcdefo", "buyer_id": "Buyer"}}, false},
		{"is_minipg", "JSTWO4", "WECHAT", [2]map[string]string{
			{"sub_appid": "wx0123456789abcdef", "buyer_id": "oBuyerOne", "is_minipg": "0"},
			{"sub_appid": "wx0123456789abcdef", "buyer_id": "oBuyerOne", "is_minipg": "1"}}, false},
		{"buyer_logon_id", "JSTWO5", "ALIPAY", [2]map[string]string{
			{"buyer_logon_id": "one@example.com"},
			{"buyer_logon_id": "two@example.com"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			e.AddOrder(tc.id, mchA, 500)
			urls := []string{e.Server.URL + "/preorder/v2", e.secondInstance(t)}
			const n = 40
			bodies := make([]map[string]string, n)
			who := make([]int, n)
			for i := range bodies {
				who[i] = (i / 2) % 2 // each buyer on both instances
				bodies[i] = jsBody(tc.id, tc.channel, tc.buyers[who[i]])
			}
			replies := postAll(t, urls, bodies, who)

			list := e.attempts(t, tc.id)
			if len(list) != 2 {
				t.Fatalf("attempts: got %d, want 2 (one per buyer)", len(list))
			}
			if got := e.gatewayCalls(tc.id); got != 2 {
				t.Errorf("gateway pre-order calls: got %d, want 2", got)
			}
			payInfo := map[string]string{}
			for _, o := range list {
				payInfo[o.OutTradeNo] = o.PayInfo
			}
			var otn [2]string
			for _, r := range replies {
				if r.Status != http.StatusCreated && r.Status != http.StatusOK {
					t.Errorf("buyer %d: got %d %+v, want 200/201", r.buyer, r.Status, r.preOrderReply)
					continue
				}
				if otn[r.buyer] == "" {
					otn[r.buyer] = r.OutTradeNo
				}
				if r.OutTradeNo != otn[r.buyer] {
					t.Errorf("buyer %d got attempts %s and %s", r.buyer, otn[r.buyer], r.OutTradeNo)
				}
				if r.PayInfo == "" || r.PayInfo != payInfo[r.OutTradeNo] {
					t.Errorf("buyer %d, %s: got pay_info %q, want the attempt's %q", r.buyer, r.OutTradeNo, r.PayInfo, payInfo[r.OutTradeNo])
				}
				if tc.appID {
					var pi struct{ AppID string }
					if err := json.Unmarshal([]byte(r.PayInfo), &pi); err != nil || pi.AppID != tc.buyers[r.buyer]["sub_appid"] {
						t.Errorf("buyer %d got pay_info %q (%v), want one made for appId %s", r.buyer, r.PayInfo, err, tc.buyers[r.buyer]["sub_appid"])
					}
				}
			}
			// Only the maker of an attempt calls the gateway for it, so
			// when each buyer's replies name one attempt and the two
			// differ, each attempt's pay_info was made for its buyer.
			if otn[0] == otn[1] {
				t.Errorf("both buyers got attempt %s", otn[0])
			}
		})
	}
}

// TestPreOrderJSPayRepeatReuses: a JSPAY request repeated by the same
// buyer within ReusePending gets the same attempt and pay_info (200); a
// request by another buyer, before or after, gets a new attempt (201).
func TestPreOrderJSPayRepeatReuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const id = "JSREPEAT1"
	e.AddOrder(id, mchA, 500)
	req := func(buyerID string) preOrderReply {
		return e.PreOrder(t, model.V2, map[string]any{"order_id": id, "channel": "WECHAT", "trade_type": "JSPAY",
			"sub_appid": "wx0123456789abcdef", "buyer_id": buyerID})
	}
	first := req("oBuyerOne")
	if first.Status != http.StatusCreated || first.PayInfo == "" {
		t.Fatalf("first: got %d %+v, want 201 with pay_info", first.Status, first)
	}
	e.Clock.Advance(time.Minute) // within ReusePending (2 min by default)
	again := req("oBuyerOne")
	if again.Status != http.StatusOK || again.OutTradeNo != first.OutTradeNo || again.PayInfo != first.PayInfo {
		t.Errorf("repeat by the same buyer: got %d %s pay_info=%q, want 200 %s with the first pay_info",
			again.Status, again.OutTradeNo, again.PayInfo, first.OutTradeNo)
	}
	other := req("oBuyerTwo")
	if other.Status != http.StatusCreated || other.OutTradeNo == first.OutTradeNo || other.PayInfo == first.PayInfo {
		t.Errorf("another buyer: got %d %s, want 201 with an attempt of their own (not %s)", other.Status, other.OutTradeNo, first.OutTradeNo)
	}
	if back := req("oBuyerOne"); back.Status != http.StatusOK || back.OutTradeNo != first.OutTradeNo {
		t.Errorf("first buyer after the other: got %d %s, want 200 %s", back.Status, back.OutTradeNo, first.OutTradeNo)
	}
	e.Clock.Advance(2 * time.Minute) // past ReusePending
	if late := req("oBuyerOne"); late.Status != http.StatusCreated || late.OutTradeNo == first.OutTradeNo {
		t.Errorf("same buyer after ReusePending: got %d %s, want 201 with a new attempt", late.Status, late.OutTradeNo)
	}
	if got := len(e.attempts(t, id)); got != 3 {
		t.Errorf("attempts: got %d, want 3", got)
	}
}
