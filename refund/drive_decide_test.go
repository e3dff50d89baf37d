package refund_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// The tests here pin the Refunder's decisions on replies the simulator
// does not give by itself: a refund_list naming several refunds, a
// refunded amount short of the request, a send lost in transit.

// errInTransit is a call lost on the way to the gateway: its effect is
// unknown to the client.
var errInTransit = errors.New("test: connection reset in transit")

// scripted is a v2 client for e's simulator whose transport lets answer
// take each call first: a non-nil map is delivered instead, signed with
// the merchant's key as the gateway signs (the simulator never sees the
// call), or as it is when its state is FAIL (a plain error reply); a non-nil error fails the call in transit; nil, nil forwards it.
// calls counts the requests by method, forwarded or not.
type scripted struct {
	*client.Client
	mu    sync.Mutex
	calls map[string]int
}

func scriptedClient(t testing.TB, e *env, answer func(form url.Values) (map[string]string, error)) *scripted {
	t.Helper()
	s := &scripted{calls: map[string]int{}}
	c, err := client.New(client.Config{
		GatewayURL: e.Sim.URL, Version: model.V2, Keys: handlertest.Keyring(),
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: roundTrip(func(req *http.Request) (*http.Response, error) {
			raw, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, err
			}
			form, err := url.ParseQuery(string(raw))
			if err != nil {
				return nil, err
			}
			s.mu.Lock()
			s.calls[form.Get("method")]++
			s.mu.Unlock()
			fields, err := answer(form)
			switch {
			case err != nil:
				return nil, err
			case fields == nil:
				req.Body = io.NopCloser(bytes.NewReader(raw))
				return http.DefaultTransport.RoundTrip(req)
			}
			if fields["state"] != string(model.StateFail) { // a plain error reply goes unsigned, as the gateway sends it
				fields["state"], fields["code"], fields["msg"], fields["trade_state"] = "SUCCESS", "10000", "SUCCESS", "SUCCESS"
				if fields["sign"], err = sign.SignMap(fields, handlertest.Merchants()[form.Get("mch_id")], sign.MD5); err != nil {
					return nil, err
				}
			}
			body, err := json.Marshal(fields)
			if err != nil {
				return nil, err
			}
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(bytes.NewReader(body)), Request: req}, nil
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Client = c
	return s
}

// Calls returns how many requests of method the client made.
func (s *scripted) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// refundQueryReply is a signed-to-be refundquery reply for attempt otn
// listing items.
func refundQueryReply(t testing.TB, otn string, items ...model.RefundItem) map[string]string {
	t.Helper()
	list, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"mch_id": handlertest.MchA, "out_trade_no": otn, "refund_count": strconv.Itoa(len(items)),
		"refund_list": string(list), "paytype": string(model.PayWeChat), "nonce_str": "n0nce",
	}
}

// refundItem is a refund_list entry for no, of fee fen, in status st.
func refundItem(no string, fee int64, st model.RefundStatus) model.RefundItem {
	return model.RefundItem{RefundID: "RID" + no, OutRefundNo: no, RefundChannel: "ORIGINAL",
		BaseRefundFee: fee, RefundFee: fee, RefundStatus: st, RefundTime: "20260501120000"}
}

// enqueued records a refund of amount fen of a fresh paid attempt without
// calling the gateway, and returns the attempt and the refund.
func enqueued(t *testing.T, e *env, id string, amount int64) (string, refund.View) {
	t.Helper()
	otn := e.PaidAttempt(t, id, 1000)
	v, err := e.refunder(t, nil).Enqueue(context.Background(), refund.Request{OutTradeNo: otn, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	return otn, v
}

func mustPoll(t testing.TB, r *refund.Refunder, want int) {
	t.Helper()
	if n, err := r.Poll(context.Background()); err != nil || n != want {
		t.Fatalf("Poll: got (%d, %v), want (%d, nil)", n, err, want)
	}
}

func refundState(t testing.TB, r *refund.Refunder, no string) refund.View {
	t.Helper()
	v, err := r.Get(context.Background(), no)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRefundQueryAppliesOnlyOurNumber: a refundquery reply may list an
// attempt's other refunds beside ours; only the entry whose out_refund_no
// is ours decides, wherever it stands, and a list without it decides
// nothing.
func TestRefundQueryAppliesOnlyOurNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		items    func(ours, other string) []model.RefundItem
		want     store.RefundState
		reserved int64
	}{
		{"ours last", func(ours, other string) []model.RefundItem {
			return []model.RefundItem{refundItem(other, 500, model.RefundFail), refundItem(ours, 300, model.RefundSuccess)}
		}, store.RefundSucceeded, 300},
		{"ours first", func(ours, other string) []model.RefundItem {
			return []model.RefundItem{refundItem(ours, 300, model.RefundProcessing), refundItem(other, 500, model.RefundFail)}
		}, store.RefundProcessing, 300},
		{"ours missing", func(ours, other string) []model.RefundItem {
			return []model.RefundItem{refundItem(other, 300, model.RefundFail)}
		}, store.RefundPending, 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			otn, v := enqueued(t, e, "RL1", 300)
			other := store.RefundNo(otn, 9)
			gw := scriptedClient(t, e, func(form url.Values) (map[string]string, error) {
				if form.Get("method") != "refundquery" {
					return nil, errInTransit
				}
				return refundQueryReply(t, otn, tc.items(v.OutRefundNo, other)...), nil
			})
			r := e.refunder(t, func(c *refund.Config) { c.Client = gw.Client })
			mustPoll(t, r, 1)
			if got := refundState(t, r, v.OutRefundNo); got.Status != string(tc.want) {
				t.Errorf("refund after a reply listing %s: got %s, want %s", other, got.Status, tc.want)
			}
			if got := totals(t, e, otn); got.Reserved != tc.reserved {
				t.Errorf("reserved: got %d, want %d", got.Reserved, tc.reserved)
			}
		})
	}
}

// TestRefundFeeShortAlerts: a signed SUCCESS whose refund_fee (with the
// coupon part, which is not refunded in cash) is not the amount asked for
// is no plain success: an amount-mismatch alert, the refund stays in
// flight with its amount reserved, the attempt is not REFUNDED.
func TestRefundFeeShortAlerts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		fee, coupon    int64
		want           store.RefundState
		alert          bool
		refunded       int64
		attemptRefunds bool
	}{
		{"as asked", 1000, 0, store.RefundSucceeded, false, 1000, true},
		{"coupon part", 900, 100, store.RefundSucceeded, false, 1000, true},
		{"short", 700, 0, store.RefundProcessing, true, 0, false},
		{"short with coupon", 800, 100, store.RefundProcessing, true, 0, false},
		{"more", 1100, 0, store.RefundProcessing, true, 0, false},
		{"none", 0, 0, store.RefundProcessing, true, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			otn, v := enqueued(t, e, "RA1", 1000)
			gw := scriptedClient(t, e, func(form url.Values) (map[string]string, error) {
				if form.Get("method") != "refundquery" {
					return nil, errInTransit
				}
				it := refundItem(v.OutRefundNo, 1000, model.RefundSuccess)
				it.RefundFee, it.CouponRefundFee = tc.fee, tc.coupon
				return refundQueryReply(t, otn, it), nil
			})
			r := e.refunder(t, func(c *refund.Config) { c.Client = gw.Client })
			mustPoll(t, r, 1)
			got := refundState(t, r, v.OutRefundNo)
			if got.Status != string(tc.want) || (got.RefundedAt != nil) != (tc.want == store.RefundSucceeded) {
				t.Errorf("refund: got %s refunded at %v, want %s with a refund time only on SUCCESS", got.Status, got.RefundedAt, tc.want)
			}
			if got := totals(t, e, otn); got != (store.RefundTotals{Reserved: 1000, Refunded: tc.refunded}) {
				t.Errorf("totals: got %+v, want 1000 reserved, %d refunded", got, tc.refunded)
			}
			if st := e.Get(t, otn).Status; (st == store.Refunded) != tc.attemptRefunds {
				t.Errorf("attempt: got %s, want REFUNDED %v", st, tc.attemptRefunds)
			}
			alerts := e.Rec.Alerts()
			if !tc.alert {
				if len(alerts) != 0 {
					t.Errorf("alerts: got %+v, want none", alerts)
				}
				return
			}
			if len(alerts) != 1 || alerts[0].Kind != handler.AlertAmountMismatch || alerts[0].OutRefundNo != v.OutRefundNo ||
				alerts[0].WantAmount != 1000 || alerts[0].GotAmount != tc.fee+tc.coupon || alerts[0].Source != handler.SourceRefund {
				t.Errorf("alerts: got %+v, want one %s for %s, want 1000, got %d", alerts, handler.AlertAmountMismatch, v.OutRefundNo, tc.fee+tc.coupon)
			}
		})
	}
}

// TestRefundByBusinessIDOnlyPaid: a refund by business order goes to its
// PAID attempt, never to another attempt, even one the store would take
// (AfterClose on a CLOSED attempt); with no PAID attempt it is refused
// and nothing is recorded.
func TestRefundByBusinessIDOnlyPaid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.AddOrder("RB2", handlertest.MchA, 1000)
	unpaid := e.MustPreOrder(t, model.V2, "RB2", model.PayAlipay)
	paid := e.MustPreOrder(t, model.V2, "RB2", model.PayWeChat)
	if err := e.Sim.Pay(paid); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle(t)
	r := e.refunder(t, nil)
	v := mustRefund(t, r, refund.Request{BusinessID: "RB2", Amount: 100})
	if v.OutTradeNo != paid || v.Status != string(store.RefundSucceeded) {
		t.Errorf("refund of RB2: got %+v, want SUCCESS against its paid attempt %s", v, paid)
	}
	if list, _ := e.Mem.ListRefunds(context.Background(), unpaid); len(list) != 0 {
		t.Errorf("refunds of the unpaid attempt %s: got %+v, want none", unpaid, list)
	}

	closed := e.CreatePending(t, "RB3X1", handlertest.MchA, model.V2, 1000)
	if err := e.Mem.Finish(context.Background(), closed.OutTradeNo, store.Closed, "expired", e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := r.Refund(context.Background(), refund.Request{BusinessID: closed.BusinessID, Amount: 100, AfterClose: true})
	if !errors.Is(err, refund.ErrNotRefundable) {
		t.Errorf("refund of a business order with only a CLOSED attempt: got %v, want %v", err, refund.ErrNotRefundable)
	}
	if list, _ := e.Mem.ListRefunds(context.Background(), closed.OutTradeNo); len(list) != 0 {
		t.Errorf("refunds of the CLOSED attempt: got %+v, want none", list)
	}
}

// TestRefundSameKeyInFlightNotDriven: repeating a request with the same
// idempotency key while its refund is still in flight returns that
// refund as it stands and makes no gateway call; Poll drives it.
func TestRefundSameKeyInFlightNotDriven(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RK3", 1000)
	gw := scriptedClient(t, e, func(form url.Values) (map[string]string, error) { return nil, errInTransit })
	r := e.refunder(t, func(c *refund.Config) { c.Client = gw.Client })
	req := refund.Request{OutTradeNo: otn, Amount: 400, IdempotencyKey: "click-9"}
	first := mustRefund(t, r, req)
	if first.Final() {
		t.Fatalf("Refund with every call lost: got %s, want in flight", first.Status)
	}
	sends, queries := gw.Calls("refund"), gw.Calls("refundquery")
	for i := 0; i < 3; i++ {
		again := mustRefund(t, r, req)
		if again.OutRefundNo != first.OutRefundNo || again.Status != first.Status {
			t.Fatalf("same key again: got %+v, want %+v", again, first)
		}
	}
	if s, q := gw.Calls("refund"), gw.Calls("refundquery"); s != sends || q != queries {
		t.Errorf("gateway calls after repeats: got %d refund, %d refundquery; want %d and %d (no new calls)", s, q, sends, queries)
	}
	if got := totals(t, e, otn); got.Reserved != 400 {
		t.Errorf("reserved: got %d, want 400", got.Reserved)
	}
}

// TestRefundChangeNotPolled: CHANGE is final: however long after, Poll
// neither claims it nor asks the gateway again, and the alert is not
// repeated.
func TestRefundChangeNotPolled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn, v := enqueued(t, e, "RC2", 400)
	gw := scriptedClient(t, e, func(form url.Values) (map[string]string, error) {
		if form.Get("method") != "refundquery" {
			return nil, errInTransit
		}
		return refundQueryReply(t, otn, refundItem(v.OutRefundNo, 400, model.RefundChange)), nil
	})
	r := e.refunder(t, func(c *refund.Config) { c.Client = gw.Client })
	mustPoll(t, r, 1)
	if got := refundState(t, r, v.OutRefundNo); got.Status != string(store.RefundChanged) {
		t.Fatalf("refund: got %s, want CHANGE", got.Status)
	}
	for _, d := range []time.Duration{time.Minute, time.Hour, 48 * time.Hour} {
		e.Clock.Advance(d)
		mustPoll(t, r, 0)
	}
	if n := gw.Calls("refundquery") + gw.Calls("refund"); n != 1 {
		t.Errorf("gateway calls: got %d, want the 1 query that answered CHANGE", n)
	}
	if n := e.Rec.Alerted(handler.AlertRefundChange); n != 1 {
		t.Errorf("%s alerts: got %d, want 1", handler.AlertRefundChange, n)
	}
	if got := totals(t, e, otn); got.Reserved != 400 || got.Refunded != 0 {
		t.Errorf("totals: got %+v, want 400 reserved, 0 refunded", got)
	}
}

// TestRefundTimeoutNotFoundStaysPending: a refund whose sends are lost in
// transit, and which the refund query does not (yet) show, was not
// refused: it stays in flight with its amount reserved, and is sent again
// under the same number once the path works.
func TestRefundTimeoutNotFoundStaysPending(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RT2", 1000)
	var mu sync.Mutex
	lose := true
	gw := scriptedClient(t, e, func(form url.Values) (map[string]string, error) {
		mu.Lock()
		defer mu.Unlock()
		if lose && form.Get("method") == "refund" {
			return nil, errInTransit
		}
		return nil, nil // refundquery reaches the simulator, which knows nothing of it
	})
	r := e.refunder(t, func(c *refund.Config) { c.Client = gw.Client })
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 1000})
	if v.Status != string(store.RefundPending) {
		t.Fatalf("Refund with its sends lost: got %s, want PENDING", v.Status)
	}
	if gw.Calls("refund") == 0 || gw.Calls("refundquery") == 0 {
		t.Fatalf("gateway calls: got %d refund, %d refundquery; want both tried", gw.Calls("refund"), gw.Calls("refundquery"))
	}
	for i := 0; i < 3; i++ {
		e.Clock.Advance(30 * time.Minute)
		mustPoll(t, r, 1)
		if got := refundState(t, r, v.OutRefundNo); got.Status != string(store.RefundPending) {
			t.Fatalf("poll %d: got %s, want PENDING", i+1, got.Status)
		}
	}
	if got := totals(t, e, otn); got.Reserved != 1000 {
		t.Fatalf("reserved while in doubt: got %d, want 1000", got.Reserved)
	}
	if _, err := r.Refund(context.Background(), refund.Request{OutTradeNo: otn, Amount: 1}); !errors.Is(err, refund.ErrAmount) {
		t.Errorf("a second refund while the first is in doubt: got %v, want %v", err, refund.ErrAmount)
	}
	mu.Lock()
	lose = false
	mu.Unlock()
	e.Clock.Advance(30 * time.Minute)
	mustPoll(t, r, 1)
	if got := refundState(t, r, v.OutRefundNo); got.Status != string(store.RefundSucceeded) {
		t.Errorf("once the path works: got %s, want SUCCESS", got.Status)
	}
	wantOneNumber(t, e, otn, v.OutRefundNo, 1)
}

// TestRefundNoClientForVersion: a refund of an attempt made with a
// protocol version the Refunder has no client for is recorded, kept in
// flight and reserved, with no gateway call and a note that names the
// version, so that a Refunder given that client later sends it.
func TestRefundNoClientForVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	o := e.CreatePending(t, "NOCLI1V101", handlertest.MchA, model.V1, 1000)
	if _, err := e.Mem.Settle(context.Background(), o.OutTradeNo, store.Payment{TransactionID: "T-NOCLI"}, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	r := e.refunder(t, nil) // the v2 client only
	v := mustRefund(t, r, refund.Request{OutTradeNo: o.OutTradeNo, Amount: 400})
	if v.Status != string(store.RefundPending) {
		t.Fatalf("refund without a client for its version: got %s, want PENDING", v.Status)
	}
	got, err := e.Mem.GetRefund(context.Background(), v.OutRefundNo)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tries != 0 || got.Note != "no client for version v1" || got.ClaimToken != "" || !got.NextDue.After(got.CreatedAt) {
		t.Errorf("refund recorded: tries %d, note %q, claim %q, next due %v after creation; want 0 tries, the version named, no claim, due later",
			got.Tries, got.Note, got.ClaimToken, got.NextDue.Sub(got.CreatedAt))
	}
	if n := len(e.simRefunds(o.OutTradeNo)); n != 0 {
		t.Errorf("gateway refunds: got %d, want none", n)
	}
	if tt := totals(t, e, o.OutTradeNo); tt.Reserved != 400 {
		t.Errorf("reserved: got %d, want 400", tt.Reserved)
	}
}

// TestRefundQueryCodesThatMeanUnknown: of refundquery's plain error
// replies, only "refund query error" (20010) and "order not found" (20007)
// say the gateway does not know the number, so a refund that may never
// have been sent is sent (here the send is lost in transit, so the drive
// asks and sends twice). Any other definitive error (a merchant error,
// 20005) says nothing certain: the refund stays PENDING and unsent until
// the next poll.
func TestRefundQueryCodesThatMeanUnknown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code  model.Code
		sends int
	}{
		{model.CodeRefundQueryError, 2},
		{model.CodeOrderNotFound, 2},
		{model.CodeMerchantError, 0},
	} {
		t.Run(string(tc.code), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			otn, v := enqueued(t, e, "RQC1", 300)
			gw := scriptedClient(t, e, func(form url.Values) (map[string]string, error) {
				if form.Get("method") != "refundquery" {
					return nil, errInTransit
				}
				return map[string]string{"state": string(model.StateFail), "code": string(tc.code), "msg": "x"}, nil
			})
			r := e.refunder(t, func(c *refund.Config) { c.Client = gw.Client })
			mustPoll(t, r, 1)
			if got := gw.Calls("refund"); got != tc.sends {
				t.Errorf("refundquery answered %s: got %d sends, want %d", tc.code, got, tc.sends)
			}
			if st := refundState(t, r, v.OutRefundNo).Status; st != string(store.RefundPending) {
				t.Errorf("refund: got %s, want PENDING", st)
			}
			if tt := totals(t, e, otn); tt.Reserved != 300 {
				t.Errorf("reserved: got %d, want 300", tt.Reserved)
			}
		})
	}
}

// TestRefundQueryReplyChecks: a signed refundquery reply decides only
// when it is about our refund: an out_trade_no, when the reply gives one,
// must be the refunded attempt's, and a base_refund_fee, when not zero,
// must be the amount asked for. A reply that fails either decides
// nothing (the refund stays PENDING); one without them is applied.
func TestRefundQueryReplyChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		otn  func(ours string) string
		base int64
		want store.RefundState
	}{
		{"ours", func(ours string) string { return ours }, 300, store.RefundSucceeded},
		{"no out_trade_no", func(string) string { return "" }, 300, store.RefundSucceeded},
		{"another attempt", func(string) string { return "OTHER0000101" }, 300, store.RefundPending},
		{"no base_refund_fee", func(ours string) string { return ours }, 0, store.RefundSucceeded},
		{"another base_refund_fee", func(ours string) string { return ours }, 999, store.RefundPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			otn, v := enqueued(t, e, "RQR1", 300)
			gw := scriptedClient(t, e, func(form url.Values) (map[string]string, error) {
				if form.Get("method") != "refundquery" {
					return nil, errInTransit
				}
				item := refundItem(v.OutRefundNo, 300, model.RefundSuccess)
				item.BaseRefundFee = tc.base
				reply := refundQueryReply(t, otn, item)
				if o := tc.otn(otn); o != "" {
					reply["out_trade_no"] = o
				} else {
					delete(reply, "out_trade_no")
				}
				return reply, nil
			})
			r := e.refunder(t, func(c *refund.Config) { c.Client = gw.Client })
			mustPoll(t, r, 1)
			if got := refundState(t, r, v.OutRefundNo).Status; got != string(tc.want) {
				t.Errorf("refund after the reply: got %s, want %s", got, tc.want)
			}
		})
	}
}

// lostAck is a refund store whose UpdateRefund writes and then reports a
// failure, as a database whose commit landed but whose answer was lost.
type lostAck struct{ *memstore.Store }

func (s lostAck) UpdateRefund(ctx context.Context, no, token string, u store.RefundUpdate, now time.Time) (*store.Refund, error) {
	if _, err := s.Store.UpdateRefund(ctx, no, token, u, now); err != nil {
		return nil, err
	}
	return nil, errors.New("test: commit acknowledgement lost")
}

// TestRefundRecordFailureReturnsStored: when recording a gateway round
// fails, Refund answers with the refund as the store now has it, not as
// this worker last saw it: here the write landed (SUCCESS) though its
// answer was lost, and the caller is told SUCCESS, not PENDING.
func TestRefundRecordFailureReturnsStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RLA1", 1000)
	r := e.refunder(t, func(c *refund.Config) { c.Refunds = lostAck{e.Mem} })
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 250})
	if v.Status != string(store.RefundSucceeded) || v.RefundID == "" {
		t.Errorf("Refund after a lost acknowledgement: got %+v, want the stored SUCCESS with its refund_id", v)
	}
	wantOneNumber(t, e, otn, v.OutRefundNo, 1)
}
