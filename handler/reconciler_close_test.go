package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// closeEnv is an env whose simulator runs on the env's clock, so that
// the gateway's 5-minute cancel window follows it.
func closeEnv(t *testing.T, opt envOptions) (*env, *handler.Reconciler) {
	t.Helper()
	opt.simClock = true
	e := newEnv(t, opt)
	return e, e.reconciler(t, model.V2)
}

// simState is the simulator's state of an order.
func simState(t testing.TB, e *env, otn string) gatewaytest.OrderState {
	t.Helper()
	o, ok := e.Sim.Order(otn)
	if !ok {
		t.Fatalf("simulator has no order %s", otn)
	}
	return o.State
}

func mustClose(t testing.TB, r *handler.Reconciler, otn string, want handler.CloseOutcome) handler.CloseResult {
	t.Helper()
	res, err := r.Close(context.Background(), otn)
	if err != nil {
		t.Fatalf("Close(%s): got error %v, want %s", otn, err, want)
	}
	if res.Outcome != want {
		t.Fatalf("Close(%s): got %+v, want outcome %s", otn, res, want)
	}
	return res
}

// paidNotification is the signed notification the gateway sends for
// otn's payment at the simulator.
func paidNotification(t testing.TB, e *env, otn string) url.Values {
	t.Helper()
	o := e.Get(t, otn)
	so, _ := e.Sim.Order(otn)
	return signedNotification(t, o, keyA, func(p *gatewaytest.Payment) { p.TransactionID = so.TransactionID })
}

// TestCloseUnpaidInWindow: inside the cancel window an unpaid attempt is
// cancelled at the gateway and recorded CLOSED; the business order then
// gets a new attempt, a new out_trade_no.
func TestCloseUnpaidInWindow(t *testing.T) {
	t.Parallel()
	e, r := closeEnv(t, envOptions{})
	e.AddOrder("CLOSE1", mchA, 300)
	otn := e.MustPreOrder(t, model.V2, "CLOSE1", model.PayWeChat)
	e.Clock.Advance(time.Minute)
	res := mustClose(t, r, otn, handler.CloseClosed)
	if res.Status != string(store.Closed) || res.OrderID != "CLOSE1" {
		t.Errorf("result: got %+v, want CLOSED of CLOSE1", res)
	}
	if st := simState(t, e, otn); st != gatewaytest.Closed {
		t.Errorf("gateway: got %s, want CLOSED (cancelled)", st)
	}
	if err := e.Sim.Pay(otn); !errors.Is(err, gatewaytest.ErrNotUnpaid) {
		t.Errorf("paying the closed attempt: got %v, want refused", err)
	}
	again := mustClose(t, r, otn, handler.CloseClosed)
	if again != res {
		t.Errorf("repeated close: got %+v, want %+v", again, res)
	}
	next := e.MustPreOrder(t, model.V2, "CLOSE1", model.PayWeChat)
	if next == otn {
		t.Errorf("a new attempt after the close reused %s", otn)
	}
}

// TestClosePaidRefused: an attempt the store holds PAID is not closed:
// no cancel reaches the gateway (it would reverse a fulfilled payment).
func TestClosePaidRefused(t *testing.T) {
	t.Parallel()
	e, r := closeEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "CLOSE2", 300)
	_, err := r.Close(context.Background(), otn)
	if !errors.Is(err, handler.ErrAttemptPaid) {
		t.Fatalf("Close of a PAID attempt: got %v, want ErrAttemptPaid", err)
	}
	if st := simState(t, e, otn); st != gatewaytest.PaidState {
		t.Errorf("gateway: got %s, want PAID (no cancel sent)", st)
	}
	if o := e.Get(t, otn); o.Status != store.Paid || !o.Fulfilled || !o.AbandonedAt.IsZero() {
		t.Errorf("attempt: got %s fulfilled %v abandoned %v, want PAID, fulfilled, not abandoned", o.Status, o.Fulfilled, o.AbandonedAt)
	}
	if got := e.Hooks.Calls(otn); got != 1 {
		t.Errorf("hook calls: got %d, want 1", got)
	}
}

// TestCloseReversesPayment: the buyer paid, the notification has not
// arrived, and the close's cancel reverses the payment: the attempt is
// REVERSED and never fulfilled. The notification that arrives after the
// reversal is answered success — the reversal is durable and nothing is
// owed, so there is nothing for the gateway to retry — and changes
// nothing: no hook, no alert, no refund.
func TestCloseReversesPayment(t *testing.T) {
	t.Parallel()
	e, r := closeEnv(t, envOptions{autoRefund: true})
	e.AddOrder("CLOSE3", mchA, 300)
	otn := e.MustPreOrder(t, model.V2, "CLOSE3", model.PayWeChat)
	e.Sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	res := mustClose(t, r, otn, handler.CloseReversed)
	if res.Status != string(store.Reversed) {
		t.Errorf("result: got %+v, want status REVERSED", res)
	}
	if st := simState(t, e, otn); st != gatewaytest.Cancelled {
		t.Errorf("gateway: got %s, want CANCELLED (reversed)", st)
	}
	if got := e.PostNotify(t, paidNotification(t, e, otn)); got != "success" {
		t.Errorf("paid notification after the reversal: got %q, want success", got)
	}
	if got := e.Hooks.Calls(otn); got != 0 {
		t.Errorf("hook calls: got %d, want 0", got)
	}
	if a := e.Rec.Alerts(); len(a) != 0 {
		t.Errorf("alerts: got %v, want none", a)
	}
	if list, _ := e.Mem.ListRefunds(context.Background(), otn); len(list) != 0 {
		t.Errorf("refunds of a reversed payment: got %+v, want none", list)
	}
	if o := e.Get(t, otn); o.Status != store.Reversed {
		t.Errorf("attempt: got %s, want REVERSED", o.Status)
	}
}

// settleSignal is a memstore that reports each successful Settle.
type settleSignal struct {
	*memstore.Store
	settled chan string
}

func (s *settleSignal) Settle(ctx context.Context, otn string, p store.Payment, now time.Time) (bool, error) {
	ok, err := s.Store.Settle(ctx, otn, p, now)
	if ok {
		s.settled <- otn
	}
	return ok, err
}

// TestClosePaymentSettlesDuringCancel: the payment's notification settles
// the attempt after the close marked it abandoned and while its cancel is
// at the gateway. The notification waits for the close under the
// business order's lease, and finds the payment reversed: no hook, no
// automatic refund of money the gateway already gave back, and success.
func TestClosePaymentSettlesDuringCancel(t *testing.T) {
	t.Parallel()
	sig := &settleSignal{settled: make(chan string, 4)}
	e, r := closeEnv(t, envOptions{autoRefund: true, wrap: func(m *memstore.Store) store.OrderStore {
		sig.Store = m
		return sig
	}})
	e.AddOrder("CLOSE4", mchA, 300)
	otn := e.MustPreOrder(t, model.V2, "CLOSE4", model.PayWeChat)
	e.Sim.SetFaults(otn, gatewaytest.Faults{NoNotify: true})
	if err := e.Sim.Pay(otn); err != nil {
		t.Fatal(err)
	}
	note := paidNotification(t, e, otn)
	reply := make(chan string, 1)
	e.OnPath.RewriteEach(client.OpCancel, func(url.Values, map[string]string) {
		go func() { reply <- e.PostNotify(t, note) }()
		select {
		case <-sig.settled:
		case <-time.After(30 * time.Second):
			t.Error("the notification did not settle within 30s")
		}
	})
	mustClose(t, r, otn, handler.CloseReversed)
	select {
	case got := <-reply:
		if got != "success" {
			t.Errorf("notification: got %q, want success", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the notification got no reply within 30s")
	}
	if got := e.Hooks.Calls(otn); got != 0 {
		t.Errorf("hook calls: got %d, want 0", got)
	}
	if list, _ := e.Mem.ListRefunds(context.Background(), otn); len(list) != 0 {
		t.Errorf("refunds: got %+v, want none (the gateway reversed the payment)", list)
	}
	if o := e.Get(t, otn); o.Status != store.Reversed {
		t.Errorf("attempt: got %s, want REVERSED", o.Status)
	}
}

// TestCloseRacesPayment: a buyer pays while the close runs, many times.
// Each run ends PAID and fulfilled once (the close refused), or reversed
// or closed at the gateway and never fulfilled — never both, never
// neither — once every notification is delivered and the reconciler has
// looked.
func TestCloseRacesPayment(t *testing.T) {
	t.Parallel()
	e, r := closeEnv(t, envOptions{})
	const runs = 20
	seen := map[string]int{}
	for i := range runs {
		id := fmt.Sprintf("RACE%02d", i)
		e.AddOrder(id, mchA, 100)
		otn := e.MustPreOrder(t, model.V2, id, model.PayWeChat)
		var wg sync.WaitGroup
		var closeErr error
		pay := func() { defer wg.Done(); _ = e.Sim.Pay(otn) }
		closeIt := func() { defer wg.Done(); _, closeErr = r.Close(context.Background(), otn) }
		wg.Add(2)
		if i%2 == 0 { // start either side first
			go pay()
			go closeIt()
		} else {
			go closeIt()
			go pay()
		}
		wg.Wait()
		e.WaitIdle(t)
		if err := r.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		o, gw, hooks := e.Get(t, otn), simState(t, e, otn), e.Hooks.Calls(otn)
		switch {
		case o.Status == store.Paid && o.Fulfilled && hooks == 1 && gw == gatewaytest.PaidState &&
			errors.Is(closeErr, handler.ErrAttemptPaid):
			seen["paid"]++
		case o.Status == store.Reversed && hooks == 0 && gw == gatewaytest.Cancelled && closeErr == nil:
			seen["reversed"]++
		case o.Status == store.Closed && hooks == 0 && gw == gatewaytest.Closed && closeErr == nil:
			seen["closed"]++
		default:
			t.Errorf("%s: store %s fulfilled %v, gateway %s, hook calls %d, close error %v: neither one outcome nor the other",
				otn, o.Status, o.Fulfilled, gw, hooks, closeErr)
		}
	}
	t.Logf("outcomes of %d races: %v", runs, seen)
}

// TestCloseUnsignedCancelLeavesOpen: a cancel reply no signature covers
// proves nothing (G14): the attempt stays PENDING and abandoned, and the
// reconciler's query records what the gateway did.
func TestCloseUnsignedCancelLeavesOpen(t *testing.T) {
	t.Parallel()
	e, r := closeEnv(t, envOptions{})
	e.AddOrder("CLOSE5", mchA, 300)
	unpaid := e.MustPreOrder(t, model.V2, "CLOSE5", model.PayWeChat)
	e.AddOrder("CLOSE6", mchA, 300)
	paid := e.MustPreOrder(t, model.V2, "CLOSE6", model.PayWeChat)
	e.Sim.SetFaults(paid, gatewaytest.Faults{NoNotify: true})
	if err := e.Sim.Pay(paid); err != nil {
		t.Fatal(err)
	}
	e.OnPath.Rewrite(client.OpCancel, gatewaytest.StripSign())
	for _, otn := range []string{unpaid, paid} {
		res := mustClose(t, r, otn, handler.CloseAbandoned)
		if res.Status != string(store.Pending) {
			t.Errorf("%s: got %+v, want PENDING (open)", otn, res)
		}
	}
	// Abandoned a moment ago, the QR code is not handed out again.
	if again := e.MustPreOrder(t, model.V2, "CLOSE5", model.PayWeChat); again == unpaid {
		t.Errorf("a new request reused the abandoned attempt %s", unpaid)
	}
	e.OnPath.Clear()
	e.Clock.Advance(10 * time.Second)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o := e.Get(t, unpaid); o.Status != store.Closed {
		t.Errorf("unpaid attempt after the reconciler's query: got %s, want CLOSED", o.Status)
	}
	if o := e.Get(t, paid); o.Status != store.Reversed {
		t.Errorf("paid attempt after the reconciler's query: got %s, want REVERSED", o.Status)
	}
	if got := e.Hooks.Calls(paid); got != 0 {
		t.Errorf("hook calls: got %d, want 0", got)
	}
}

// TestCloseAfterWindowAbandons: past the cancel window nothing is sent to
// the gateway; the attempt is abandoned, stays PENDING (watched), shows no
// checkout, and frees the business order: a new request gets a new
// out_trade_no rather than the abandoned QR code. A payment that still
// lands on it is a second payment: alert, no hook, refunded once with
// AutoRefund; the new attempt's payment is then fulfilled as usual.
func TestCloseAfterWindowAbandons(t *testing.T) {
	t.Parallel()
	e, r := closeEnv(t, envOptions{autoRefund: true})
	e.AddOrder("CLOSE7", mchA, 400)
	old := e.MustPreOrder(t, model.V2, "CLOSE7", model.PayWeChat)
	e.Clock.Advance(6 * time.Minute)
	res := mustClose(t, r, old, handler.CloseAbandoned)
	if res.Status != string(store.Pending) {
		t.Errorf("result: got %+v, want PENDING", res)
	}
	if st := simState(t, e, old); st != gatewaytest.Unpaid {
		t.Errorf("gateway: got %s, want UNPAID (no cancel past the window)", st)
	}
	var view handler.OrderView
	getJSON(t, e.Server.URL+"/orders/"+old, &view)
	if !view.Abandoned || view.CodeURL != "" || view.Status != string(store.Pending) {
		t.Errorf("status view: got %+v, want PENDING, abandoned, no code_url", view)
	}
	fresh := e.MustPreOrder(t, model.V2, "CLOSE7", model.PayWeChat)
	if fresh == old {
		t.Fatalf("the new request reused the abandoned attempt %s", old)
	}

	if err := e.Sim.Pay(old); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(t)
	if !e.Sim.Settled(old) {
		t.Errorf("the late payment's notification was not acknowledged: %+v", e.Sim.Deliveries(old))
	}
	if o := e.Get(t, old); o.Status != store.Paid || o.AbandonedAt.IsZero() {
		t.Errorf("abandoned attempt after its payment: got %s abandoned %v, want PAID and abandoned", o.Status, o.AbandonedAt)
	}
	if got := e.Hooks.Calls(old); got != 0 {
		t.Errorf("hook calls for the abandoned attempt: got %d, want 0", got)
	}
	if n := e.Rec.Alerted(handler.AlertPaidAfterAbandon); n != 1 {
		t.Errorf("paid-after-abandon alerts: got %d (%v), want 1", n, e.Rec.Alerts())
	}
	if err := e.Sim.Redeliver(old); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(t)
	if n, err := e.auto.Poll(context.Background()); err != nil || n != 1 {
		t.Fatalf("Poll: got (%d, %v), want (1, nil)", n, err)
	}
	if got := e.Sim.Refunds(old); len(got) != 1 || got[0].Fee != 400 || got[0].Status != model.RefundSuccess {
		t.Errorf("gateway refunds of the abandoned attempt: got %+v, want one SUCCESS of 400", got)
	}

	if err := e.Sim.Pay(fresh); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(t)
	if got := e.Hooks.Calls(fresh); got != 1 {
		t.Errorf("hook calls for the new attempt: got %d, want 1 (the abandoned payment fulfilled nothing)", got)
	}
	if got := e.Sim.Refunds(fresh); len(got) != 0 {
		t.Errorf("refunds of the new attempt: got %+v, want none", got)
	}
}

// TestPaidAfterBuyerClose: a payment reported for an attempt the buyer closed
// (CLOSED at the gateway and here) is refunded once with AutoRefund.
func TestPaidAfterBuyerClose(t *testing.T) {
	t.Parallel()
	e, r := closeEnv(t, envOptions{autoRefund: true})
	e.AddOrder("CLOSE8", mchA, 500)
	otn := e.MustPreOrder(t, model.V2, "CLOSE8", model.PayWeChat)
	mustClose(t, r, otn, handler.CloseClosed)
	o := e.Get(t, otn)
	note := signedNotification(t, o, keyA, func(p *gatewaytest.Payment) { p.TransactionID = "T-AFTER-CLOSE" })
	for range 2 {
		e.PostNotify(t, note)
	}
	if n := e.Rec.Alerted(handler.AlertPaidAfterClose); n < 1 {
		t.Errorf("paid-after-close alerts: got none")
	}
	if list, _ := e.Mem.ListRefunds(context.Background(), otn); len(list) != 1 || list[0].Amount != 500 {
		t.Errorf("refunds: got %+v, want one of 500", list)
	}
	if got := e.Hooks.Calls(otn); got != 0 {
		t.Errorf("hook calls: got %d, want 0", got)
	}
}

// TestDoublePaymentLateCopyOtherTransaction: after the second payment of
// a business order was refunded automatically, a late copy naming
// another transaction id refunds nothing more and fulfils nothing.
func TestDoublePaymentLateCopyOtherTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{autoRefund: true})
	first, second := e.PayTwice(t, "AUTO3", 800)
	if n, err := e.auto.Poll(context.Background()); err != nil || n != 1 {
		t.Fatalf("Poll: got (%d, %v), want (1, nil)", n, err)
	}
	o := e.Get(t, second)
	if o.Status != store.Refunded {
		t.Fatalf("second payment: got %s, want REFUNDED", o.Status)
	}
	got := e.PostNotify(t, signedNotification(t, o, keyA, func(p *gatewaytest.Payment) { p.TransactionID = "T-OTHER" }))
	if got == "success" {
		t.Errorf("late copy with another transaction id: got success, want fail (a conflict to look at)")
	}
	if n := e.Rec.Alerted(handler.AlertTransactionConflict); n != 1 {
		t.Errorf("transaction-conflict alerts: got %d, want 1", n)
	}
	if n, err := e.auto.Poll(context.Background()); err != nil || n != 0 {
		t.Errorf("Poll after the late copy: got (%d, %v), want (0, nil)", n, err)
	}
	if got := e.Sim.Refunds(second); len(got) != 1 {
		t.Errorf("gateway refunds of the second payment: got %+v, want exactly one", got)
	}
	if e.Hooks.Calls(first)+e.Hooks.Calls(second) != 1 {
		t.Errorf("hook calls: got %d + %d, want 1 in all", e.Hooks.Calls(first), e.Hooks.Calls(second))
	}
}

// TestCloseRoute: the buyer's POST /pay/orders/{out_trade_no}/close is
// authorised like the status route: the payer closes, anyone else gets
// 404 exactly as for an unknown attempt, and a paid attempt is 409.
func TestCloseRoute(t *testing.T) {
	t.Parallel()
	e, r := closeEnv(t, envOptions{})
	authorize := func(req *http.Request, o *store.Order) handler.StatusAccess {
		if req.URL.Query().Get("token") == "buyer-"+o.BusinessID {
			return handler.StatusPayer
		}
		return handler.StatusDenied
	}
	h, err := handler.NewCloseAttempt(handler.CloseConfig{Reconciler: r, Authorize: authorize, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /pay/orders/{out_trade_no}/close", h)
	post := func(otn, token string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/pay/orders/"+otn+"/close?token="+token, nil)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	e.AddOrder("ROUTE1", mchA, 300)
	otn := e.MustPreOrder(t, model.V2, "ROUTE1", model.PayWeChat)
	code, strangerBody := post(otn, "buyer-OTHER")
	if code != http.StatusNotFound {
		t.Errorf("stranger: got %d, want 404", code)
	}
	if _, unknownBody := post("NOSUCH0001", "buyer-ROUTE1"); unknownBody != strangerBody {
		t.Errorf("stranger and unknown answered differently: %q vs %q", strangerBody, unknownBody)
	}
	if o := e.Get(t, otn); o.Status != store.Pending || !o.AbandonedAt.IsZero() {
		t.Fatalf("a stranger's close changed the attempt: %s abandoned %v", o.Status, o.AbandonedAt)
	}
	code, body := post(otn, "buyer-ROUTE1")
	var res handler.CloseResult
	if err := json.Unmarshal([]byte(body), &res); code != http.StatusOK || err != nil || res.Outcome != handler.CloseClosed {
		t.Errorf("buyer: got %d %s, want 200 CLOSED", code, body)
	}
	paid := e.PaidAttempt(t, "ROUTE2", 300)
	if code, body := post(paid, "buyer-ROUTE2"); code != http.StatusConflict {
		t.Errorf("paid attempt: got %d %s, want 409", code, body)
	}
}

func getJSON(t testing.TB, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
