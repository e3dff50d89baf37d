package handler_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// These tests put a party on the path between the kit and the gateway
// (gatewaytest.OnPath) and prove guarantee G14: an unsigned, badly signed
// or re-cut reply to any call changes nothing in the store.

const wrongKey = "not-the-merchant-key-0123456789ab"

// paidFields are what a paid query reply about otn says, as the gateway
// would sign it.
func paidFields(otn string, amount int64) map[string]string {
	fee := strconv.FormatInt(amount, 10)
	return map[string]string{"state": "SUCCESS", "code": "10000", "trade_state": "SUCCESS",
		"mch_id": mchA, "out_trade_no": otn, "transaction_id": "4200" + otn, "total_fee": fee,
		"base_fee": fee, "time_end": "20261207120000", "paytype": "WECHAT"}
}

// replyVariant is one made-up reply: its state, code and trade_state,
// with or without the business fields of a payment for the order.
type replyVariant struct {
	state, code, tradeState string
	paid                    bool
}

func (v replyVariant) fields(otn string, amount int64) map[string]string {
	f := map[string]string{}
	if v.paid {
		f = paidFields(otn, amount)
		delete(f, "code")
		delete(f, "trade_state")
	}
	for name, val := range map[string]string{"state": v.state, "code": v.code, "trade_state": v.tradeState} {
		if val != "" {
			f[name] = val
		} else {
			delete(f, name)
		}
	}
	return f
}

// plainError is what the client reads as a plain error reply, which may
// come unsigned: state not SUCCESS, or a 2xxxx / 3xxxx code.
func (v replyVariant) plainError() bool {
	return v.state != "SUCCESS" || len(v.code) == 5 && (v.code[0] == '2' || v.code[0] == '3')
}

// allReplyVariants combines the states, the codes of every class and the
// trade states the gateway documents (and their absence), with and
// without a payment's fields.
func allReplyVariants() []replyVariant {
	var out []replyVariant
	// VER and the other 2xxxx codes take the same paths as FAIL and
	// 20006; leaving them out keeps the test quick under -race.
	for _, state := range []string{"SUCCESS", "FAIL", ""} {
		for _, code := range []string{"10000", "10001", "10002", "10003", "10004", "10005", "10006",
			"20006", "20007", "30001", ""} {
			for _, ts := range []string{"SUCCESS", "FAIL", "NEED_QUERY", "REFUND", "PROCESSING", ""} {
				for _, paid := range []bool{false, true} {
					out = append(out, replyVariant{state, code, ts, paid})
				}
			}
		}
	}
	return out
}

// orders reads the attempts as stored, for a byte-for-byte comparison.
func (e *env) orders(t testing.TB, otns []string) map[string]store.Order {
	t.Helper()
	m := make(map[string]store.Order, len(otns))
	for _, otn := range otns {
		m[otn] = *e.Get(t, otn)
	}
	return m
}

// sameOrders compares stored attempts field by field, except NextDue:
// "asked again on the schedule" is the one thing an unverified reply may
// move.
var sameOrders = cmpopts.IgnoreFields(store.Order{}, "NextDue")

// unsignedAlerts counts the AlertUnsignedReply alerts raised so far.
func unsignedAlerts(r *handlertest.Recorder) []handler.Alert {
	var out []handler.Alert
	for _, a := range r.Alerts() {
		if a.Kind == handler.AlertUnsignedReply {
			out = append(out, a)
		}
	}
	return out
}

// TestReconcilerOnPathRewrites: a paid (or unpaid) attempt whose query
// replies are rewritten on the path stays as it was — not settled, not
// closed, the hook not run — however the reply is mangled; once the
// path is clean, the next query on the schedule settles it.
func TestReconcilerOnPathRewrites(t *testing.T) {
	t.Parallel()
	const amount = 1000
	tests := []struct {
		name string
		paid bool // the buyer has paid at the gateway
		rw   func(otn string) []gatewaytest.Rewrite
	}{
		{"paid, sign stripped", true, func(string) []gatewaytest.Rewrite { return []gatewaytest.Rewrite{gatewaytest.StripSign()} }},
		{"paid, re-signed with a wrong key", true, func(string) []gatewaytest.Rewrite {
			return []gatewaytest.Rewrite{gatewaytest.Resign("", wrongKey)}
		}},
		{"paid, amount re-cut under the old sign", true, func(string) []gatewaytest.Rewrite {
			return []gatewaytest.Rewrite{gatewaytest.Set("base_fee", "1")}
		}},
		{"paid, unsigned closed (10004)", true, func(otn string) []gatewaytest.Rewrite {
			return []gatewaytest.Rewrite{gatewaytest.Replace(map[string]string{"state": "SUCCESS", "code": "10004", "trade_state": "FAIL", "out_trade_no": otn, "mch_id": mchA})}
		}},
		{"paid, unsigned refunded (10002)", true, func(otn string) []gatewaytest.Rewrite {
			return []gatewaytest.Rewrite{gatewaytest.Replace(map[string]string{"state": "SUCCESS", "code": "10002", "trade_state": "REFUND", "out_trade_no": otn, "mch_id": mchA})}
		}},
		{"unpaid, unsigned paid", false, func(otn string) []gatewaytest.Rewrite {
			return []gatewaytest.Rewrite{gatewaytest.Replace(paidFields(otn, amount))}
		}},
		{"unpaid, paid signed with a wrong key", false, func(otn string) []gatewaytest.Rewrite {
			return []gatewaytest.Rewrite{gatewaytest.Replace(paidFields(otn, amount)), gatewaytest.Resign("", wrongKey)}
		}},
		{"unpaid, unsigned closed (10004)", false, func(otn string) []gatewaytest.Rewrite {
			return []gatewaytest.Rewrite{gatewaytest.Replace(map[string]string{"state": "SUCCESS", "code": "10004", "trade_state": "FAIL"})}
		}},
		{"unpaid, unsigned cancelled (10005)", false, func(otn string) []gatewaytest.Rewrite {
			return []gatewaytest.Rewrite{gatewaytest.Replace(map[string]string{"state": "SUCCESS", "code": "10005"})}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, envOptions{faults: func(string) gatewaytest.Faults { return gatewaytest.Faults{NoNotify: true} }})
			e.AddOrder("ONPATH1", mchA, amount)
			otn := e.MustPreOrder(t, model.V2, "ONPATH1", model.PayWeChat)
			if tc.paid {
				if err := e.Sim.Pay(otn); err != nil {
					t.Fatal(err)
				}
			}
			r := e.reconciler(t, model.V2)
			before := e.orders(t, []string{otn})
			e.OnPath.Rewrite(client.OpOrderQuery, tc.rw(otn)...)
			for _, step := range []time.Duration{10 * time.Second, 5 * time.Second, 5 * time.Minute, 25 * time.Hour} {
				e.Clock.Advance(step)
				_ = r.RunOnce(ctx)
				if diff := cmp.Diff(before, e.orders(t, []string{otn}), sameOrders); diff != "" {
					t.Fatalf("after %s: the store changed on a mangled reply (-before +after):\n%s", step, diff)
				}
			}
			if n := e.OnPath.Rewritten(client.OpOrderQuery); n < 4 {
				t.Fatalf("rewrote %d replies, want at least 4", n)
			}
			if e.Hooks.Calls(otn) != 0 {
				t.Fatal("the hook ran on a mangled reply")
			}
			if got := len(unsignedAlerts(e.Rec)); got != 1 {
				t.Errorf("AlertUnsignedReply: got %d, want 1 (at the 3rd reply in a row)", got)
			}
			// The path is clean again: the attempt is asked again on its
			// schedule, and decided on the signed answer.
			e.OnPath.Clear()
			e.Clock.Advance(5 * time.Hour)
			if err := r.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			want := store.Closed
			if tc.paid {
				want = store.Paid
			}
			if got := e.Get(t, otn).Status; got != want {
				t.Errorf("after a signed reply: got %s, want %s", got, want)
			}
		})
	}
}

// TestReconcilerUnsignedProperty: over every combination of state, code
// and trade_state (with and without a payment's fields), unsigned and
// re-signed with a wrong key, no query reply changes a byte of the
// attempt, early or past MaxAge. The one exception is the kit's own: past
// MaxAge an attempt without a checkout (nothing a buyer could pay with)
// that the gateway answers 20007 (order not found, an error reply the
// gateway never signs) is closed, as it always was — see
// docs/guarantees.md G14 and TestReconcilerNotFoundNeverClosesACheckout.
func TestReconcilerUnsignedProperty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	const amount = 500
	type item struct {
		v      replyVariant
		signed bool // re-signed with a wrong key
	}
	items := map[string]item{}
	var otns []string
	for i, v := range allReplyVariants() {
		for _, signed := range []bool{false, true} {
			otn := fmt.Sprintf("PROP%05d", 2*i+btoi(signed))
			e.CreatePending(t, otn, mchA, model.V2, amount)
			items[otn] = item{v, signed}
			otns = append(otns, otn)
		}
	}
	e.OnPath.RewriteEach(client.OpOrderQuery, func(form url.Values, reply map[string]string) {
		it := items[form.Get("out_trade_no")]
		gatewaytest.Replace(it.v.fields(form.Get("out_trade_no"), amount))(reply)
		if it.signed {
			gatewaytest.Resign("", wrongKey)(reply)
		}
	})
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Now: e.Clock.Now,
		Concurrency: 8, Batch: 10 * len(otns), Scheduler: e.Mem,
	})
	if err != nil {
		t.Fatal(err)
	}
	before := e.orders(t, otns)
	e.Clock.Advance(10 * time.Second)
	_ = r.RunOnce(ctx)
	if diff := cmp.Diff(before, e.orders(t, otns), sameOrders); diff != "" {
		t.Fatalf("the store changed on an unverified reply (-before +after):\n%s", diff)
	}
	e.Clock.Advance(25 * time.Hour)
	_ = r.RunOnce(ctx)
	after := e.orders(t, otns)
	for _, otn := range otns {
		it := items[otn]
		if !it.signed && it.v.plainError() && it.v.code == "20007" {
			if after[otn].Status != store.Closed {
				t.Errorf("%s %+v: not found past MaxAge: got %s, want CLOSED", otn, it.v, after[otn].Status)
			}
			continue
		}
		if diff := cmp.Diff(before[otn], after[otn], sameOrders); diff != "" {
			t.Errorf("%s %+v signed=%v: past MaxAge the store changed (-before +after):\n%s", otn, it.v, it.signed, diff)
		}
	}
	if got := e.OnPath.Rewritten(client.OpOrderQuery); got < 2*len(otns) {
		t.Errorf("rewrote %d replies, want %d", got, 2*len(otns))
	}
	if len(unsignedAlerts(e.Rec)) == 0 {
		t.Error("no AlertUnsignedReply after hundreds of unverified replies")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestReconcilerNotFoundNeverClosesACheckout: "order not found" (20007,
// an error reply the gateway never signs) about an attempt whose checkout
// came in a signed pre-order reply — so the gateway has it and the buyer
// can pay it — never closes it, even past MaxAge; the buyer's payment is
// then taken.
func TestReconcilerNotFoundNeverClosesACheckout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	e.AddOrder("NFCHECKOUT", mchA, 10)
	otn := e.MustPreOrder(t, model.V2, "NFCHECKOUT", model.PayWeChat)
	e.OnPath.Rewrite(client.OpOrderQuery, gatewaytest.Replace(map[string]string{"state": "FAIL", "code": "20007", "msg": "订单不存在"}))
	r := e.reconciler(t, model.V2)
	before := e.orders(t, []string{otn})
	for _, step := range []time.Duration{10 * time.Second, 25 * time.Hour, 5 * time.Hour} {
		e.Clock.Advance(step)
		_ = r.RunOnce(ctx)
		if diff := cmp.Diff(before, e.orders(t, []string{otn}), sameOrders); diff != "" {
			t.Fatalf("after %s: closed on an unsigned not-found (-before +after):\n%s", step, diff)
		}
	}
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(t)
	if got := e.Get(t, otn).Status; got != store.Paid {
		t.Errorf("the buyer paid: got %s, want PAID", got)
	}
}

// TestReconcilerExpiryCancelMustSucceed: an attempt recorded without an
// expiry (before stores kept one) that reaches MaxAge inside the gateway's
// cancel window is CLOSED only when the cancel is answered
// with a verified reply. A cancel that fails — an unsigned or re-signed
// "cancelled", a plain error, a dead network — leaves it PENDING: the
// buyer may have paid meanwhile.
func TestReconcilerExpiryCancelMustSucceed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rw   []gatewaytest.Rewrite
	}{
		{"unsigned cancelled", []gatewaytest.Rewrite{gatewaytest.StripSign()}},
		{"wrong key", []gatewaytest.Rewrite{gatewaytest.Resign("", wrongKey)}},
		{"plain error", []gatewaytest.Rewrite{gatewaytest.Replace(map[string]string{"state": "FAIL", "code": "20011", "msg": "撤销错误"})}},
		{"unsigned closed", []gatewaytest.Rewrite{gatewaytest.Replace(map[string]string{"state": "SUCCESS", "code": "10004", "trade_state": "FAIL"})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, envOptions{})
			r, err := handler.NewReconciler(handler.ReconcilerConfig{
				Settler: e.Settler, Client: e.Clients[model.V2], Logger: quietLogger(), Now: e.Clock.Now,
				FastWindow: 60 * time.Second, MaxAge: 90 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			otn := e.legacyAttempt(t, "EXPCANCEL01")
			e.OnPath.Rewrite(client.OpCancel, tc.rw...)
			e.Clock.Advance(100 * time.Second) // past MaxAge, inside the cancel window
			_ = r.RunOnce(ctx)
			if e.OnPath.Rewritten(client.OpCancel) != 1 {
				t.Fatalf("cancel replies rewritten: got %d, want 1", e.OnPath.Rewritten(client.OpCancel))
			}
			if got := e.Get(t, otn).Status; got != store.Pending {
				t.Fatalf("after a failed cancel: got %s, want PENDING", got)
			}
			// The next pass asks again and decides on the gateway's signed
			// answer (the cancel did reach it).
			e.OnPath.Clear()
			e.Clock.Advance(5 * time.Hour) // past MaxAge the last tail step repeats
			if err := r.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if got := e.Get(t, otn).Status; got != store.Closed {
				t.Errorf("after a signed reply: got %s, want CLOSED", got)
			}
		})
	}
}

// TestReconcilerExpiryCancelNetworkFailure: a cancel whose request never
// gets an answer leaves the attempt (recorded without an expiry) PENDING
// too.
func TestReconcilerExpiryCancelNetworkFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	otn := e.legacyAttempt(t, "EXPNET01")
	c, err := client.New(client.Config{GatewayURL: e.Sim.URL, Keys: handlertest.Keyring(),
		HTTPClient: &http.Client{Transport: cancelFails{}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: c, Logger: quietLogger(), Now: e.Clock.Now,
		FastWindow: 60 * time.Second, MaxAge: 90 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(100 * time.Second)
	if err := r.RunOnce(ctx); err == nil {
		t.Error("RunOnce: got nil, want the cancel's error")
	}
	if got := e.Get(t, otn).Status; got != store.Pending {
		t.Fatalf("after a cancel lost on the network: got %s, want PENDING", got)
	}
	// The buyer paid meanwhile: the payment is taken, not refused as paid
	// after close.
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(t)
	if got := e.Get(t, otn).Status; got != store.Paid {
		t.Errorf("paid after the failed cancel: got %s, want PAID", got)
	}
}

// cancelFails passes every call to the default transport but the cancel,
// which fails on the network.
type cancelFails struct{}

func (cancelFails) RoundTrip(req *http.Request) (*http.Response, error) {
	if client.CallOp(req.Context()) == client.OpCancel {
		return nil, fmt.Errorf("connection reset")
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestReconcilerSettlesCouponPayment: a query reply for a payment made
// partly with a coupon says total_fee (paid) 800 and base_fee (due) 1000;
// the attempt of 1000 settles on it, by the amount due.
func TestReconcilerSettlesCouponPayment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{faults: func(string) gatewaytest.Faults { return gatewaytest.Faults{NoNotify: true} }})
	e.AddOrder("COUPON1", mchA, 1000)
	otn := e.MustPreOrder(t, model.V2, "COUPON1", model.PayWeChat)
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	// The gateway's own reply for a coupon payment, signed with its key.
	e.OnPath.Rewrite(client.OpOrderQuery, gatewaytest.Set("total_fee", "800"), gatewaytest.Set("coupon_fee", "200"),
		gatewaytest.Resign("", keyA))
	e.Clock.Advance(10 * time.Second)
	if err := e.reconciler(t, model.V2).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.OnPath.Last(client.OpOrderQuery); got["total_fee"] != "800" || got["base_fee"] != "1000" {
		t.Fatalf("the reply was not a coupon payment: %v", got)
	}
	if o := e.Get(t, otn); o.Status != store.Paid || o.Amount != 1000 {
		t.Errorf("coupon payment: got %s of %d, want PAID of 1000", o.Status, o.Amount)
	}
	if a := e.Rec.Alerts(); len(a) != 0 {
		t.Errorf("alerts: got %v, want none", a)
	}
}

// TestReconcilerSettlesWithoutTimeEnd: a signed paid reply whose time_end
// is missing or not a time still settles the attempt; the payment time is
// then the time the kit learnt of it (store.Order.PaidAt).
func TestReconcilerSettlesWithoutTimeEnd(t *testing.T) {
	t.Parallel()
	for name, rw := range map[string]gatewaytest.Rewrite{
		"time_end missing":  gatewaytest.Drop("time_end"),
		"time_end garbled":  gatewaytest.Set("time_end", "yesterday"),
		"time_end too long": gatewaytest.Set("time_end", "202612071200001"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, envOptions{faults: func(string) gatewaytest.Faults { return gatewaytest.Faults{NoNotify: true} }})
			e.AddOrder("NOTIME1", mchA, 100)
			otn := e.MustPreOrder(t, model.V2, "NOTIME1", model.PayWeChat)
			if err := e.Sim.Pay(otn); err != nil {
				t.Fatal(err)
			}
			e.OnPath.Rewrite(client.OpOrderQuery, rw, gatewaytest.Resign("", keyA))
			e.Clock.Advance(10 * time.Second)
			if err := e.reconciler(t, model.V2).RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			o := e.Get(t, otn)
			if o.Status != store.Paid || !o.PaidAt.Equal(e.Clock.Now()) {
				t.Errorf("got %s paid at %v, want PAID at the kit's clock %v", o.Status, o.PaidAt, e.Clock.Now())
			}
		})
	}
}

// TestReconcilerPaidReplyMustNameTheAttempt: a signed paid reply that
// does not name the attempt asked about (out_trade_no missing or
// another's) is not acted on.
func TestReconcilerPaidReplyMustNameTheAttempt(t *testing.T) {
	t.Parallel()
	for name, rw := range map[string]gatewaytest.Rewrite{
		"out_trade_no missing": gatewaytest.Drop("out_trade_no"),
		"another out_trade_no": gatewaytest.Set("out_trade_no", "SOMEONEELSE01"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, envOptions{faults: func(string) gatewaytest.Faults { return gatewaytest.Faults{NoNotify: true} }})
			e.AddOrder("NAMED1", mchA, 100)
			otn := e.MustPreOrder(t, model.V2, "NAMED1", model.PayWeChat)
			if err := e.Sim.Pay(otn); err != nil {
				t.Fatal(err)
			}
			before := e.orders(t, []string{otn})
			e.OnPath.Rewrite(client.OpOrderQuery, rw, gatewaytest.Resign("", keyA))
			e.Clock.Advance(10 * time.Second)
			_ = e.reconciler(t, model.V2).RunOnce(ctx)
			if diff := cmp.Diff(before, e.orders(t, []string{otn}), sameOrders); diff != "" {
				t.Errorf("acted on a reply about another attempt (-before +after):\n%s", diff)
			}
		})
	}
}
