package refund_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
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

// refunder returns a Refunder on e's store and v2 client; mod adjusts the
// config first.
func (e *env) refunder(t testing.TB, mod func(c *refund.Config)) *refund.Refunder {
	t.Helper()
	cfg := refund.Config{
		Store: e.Mem, Client: e.Clients[model.V2], Alert: e.Rec.Alert,
		Logger: handlertest.QuietLogger(), Now: e.Clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := refund.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// simRefunds returns the simulator's refunds of otn.
func (e *env) simRefunds(otn string) []gatewaytest.RefundInfo { return e.Sim.Refunds(otn) }

func mustRefund(t testing.TB, r *refund.Refunder, req refund.Request) refund.View {
	t.Helper()
	v, err := r.Refund(context.Background(), req)
	if err != nil {
		t.Fatalf("Refund(%+v): got error %v, want nil", req, err)
	}
	return v
}

// wantOneNumber fails t unless the simulator saw exactly one refund of
// otn, under no, asked for requests times.
func wantOneNumber(t testing.TB, e *env, otn, no string, requests int) {
	t.Helper()
	got := e.simRefunds(otn)
	if len(got) != 1 || got[0].OutRefundNo != no || got[0].Requests != requests {
		t.Fatalf("gateway refunds of %s: got %+v, want one refund %s asked %d times", otn, got, no, requests)
	}
}

func totals(t testing.TB, e *env, otn string) store.RefundTotals {
	t.Helper()
	tt, err := e.Mem.RefundTotals(context.Background(), otn)
	if err != nil {
		t.Fatal(err)
	}
	return tt
}

func TestRefundSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "R1", 1999)
	r := e.refunder(t, nil)
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 500, Reason: "returned goods"})
	if v.Status != string(store.RefundSucceeded) || v.OutRefundNo != store.RefundNo(otn, 1) || v.Amount != 500 || v.RefundID == "" {
		t.Fatalf("Refund: got %+v, want SUCCESS of 500 as %s with a refund_id", v, store.RefundNo(otn, 1))
	}
	if len(v.OutRefundNo) > 32 {
		t.Errorf("out_refund_no %q: got %d chars, want at most 32", v.OutRefundNo, len(v.OutRefundNo))
	}
	wantOneNumber(t, e, otn, v.OutRefundNo, 1)
	if got := e.Get(t, otn).Status; got != store.Paid {
		t.Errorf("partly refunded attempt: got %s, want PAID", got)
	}
	// By business order, the rest: the attempt becomes REFUNDED.
	v2 := mustRefund(t, r, refund.Request{BusinessID: "R1", Amount: 1499})
	if v2.Status != string(store.RefundSucceeded) || v2.OutRefundNo != store.RefundNo(otn, 2) {
		t.Fatalf("second Refund: got %+v, want SUCCESS as %s", v2, store.RefundNo(otn, 2))
	}
	if got := e.Get(t, otn).Status; got != store.Refunded {
		t.Errorf("fully refunded attempt: got %s, want REFUNDED", got)
	}
	if o, _ := e.Sim.Order(otn); o.Refunded != 1999 {
		t.Errorf("gateway refunded: got %d, want 1999", o.Refunded)
	}
}

// TestRefundTimeBothFormats: the simulator writes refund_time dashed for
// the first refund and as yyyyMMddHHmmss for the second; both are read.
func TestRefundTimeBothFormats(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RT1", 1000)
	r := e.refunder(t, nil)
	for i := 0; i < 2; i++ {
		v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 100})
		if v.RefundedAt == nil || time.Since(*v.RefundedAt) > time.Hour || time.Since(*v.RefundedAt) < -time.Hour {
			t.Errorf("refund %d: got refunded_at %v, want the gateway's refund_time", i+1, v.RefundedAt)
		}
	}
}

// TestRefundRecordedBeforeGateway looks into the store from inside the
// gateway call: the refund must already be there, PENDING, under the
// number being sent.
func TestRefundRecordedBeforeGateway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RB1", 1000)
	var mu sync.Mutex
	var seen []string
	r := e.refunder(t, func(cfg *refund.Config) { cfg.Client = recordingClient(t, e, &mu, &seen) })
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 300})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "PENDING "+v.OutRefundNo {
		t.Fatalf("store state seen by the gateway call: got %q, want [\"PENDING %s\"]", seen, v.OutRefundNo)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// recordingClient is a v2 client whose transport notes, for each refund
// request, the stored state of the refund it names.
func recordingClient(t testing.TB, e *env, mu *sync.Mutex, seen *[]string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{
		GatewayURL: e.Sim.URL, Version: model.V2, Keys: handlertest.Keyring(),
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: roundTrip(func(req *http.Request) (*http.Response, error) {
			raw, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, err
			}
			req.Body = io.NopCloser(bytes.NewReader(raw))
			if form, err := url.ParseQuery(string(raw)); err == nil && form.Get("method") == "refund" {
				no := form.Get("out_refund_no")
				ref, err := e.Mem.GetRefund(context.Background(), no)
				mu.Lock()
				if err != nil {
					*seen = append(*seen, "missing "+no)
				} else {
					*seen = append(*seen, string(ref.State)+" "+no)
				}
				mu.Unlock()
			}
			return http.DefaultTransport.RoundTrip(req)
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRefundIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RK1", 1000)
	other := e.PaidAttempt(t, "RK2", 1000)
	r := e.refunder(t, nil)
	first := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 400, IdempotencyKey: "click-1"})
	again := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 400, IdempotencyKey: "click-1"})
	if again.OutRefundNo != first.OutRefundNo || again.Status != first.Status {
		t.Errorf("same key again: got %+v, want %+v", again, first)
	}
	wantOneNumber(t, e, otn, first.OutRefundNo, 1)
	for _, req := range []refund.Request{
		{OutTradeNo: otn, Amount: 401, IdempotencyKey: "click-1"},
		{OutTradeNo: other, Amount: 400, IdempotencyKey: "click-1"},
	} {
		if _, err := r.Refund(context.Background(), req); !errors.Is(err, refund.ErrKeyReused) {
			t.Errorf("Refund(%+v): got %v, want %v", req, err, refund.ErrKeyReused)
		}
	}
	if got := totals(t, e, otn); got.Reserved != 400 {
		t.Errorf("reserved after refused requests: got %d, want 400", got.Reserved)
	}
	if got := e.simRefunds(other); len(got) != 0 {
		t.Errorf("gateway refunds of %s: got %+v, want none", other, got)
	}
}

// TestNewRefunderValidates: a retry schedule with a delay that is zero or
// negative is refused at construction, as are a negative lease or batch:
// a zero delay would have the poller ask the gateway again at once, in a
// loop. Mutant killed (gremlins, refund.go): "d <= 0" weakened to "d < 0".
func TestNewRefunderValidates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for name, mod := range map[string]func(c *refund.Config){
		"zero delay":       func(c *refund.Config) { c.Schedule = []time.Duration{0} },
		"zero delay later": func(c *refund.Config) { c.Schedule = []time.Duration{time.Minute, 0} },
		"negative delay":   func(c *refund.Config) { c.Schedule = []time.Duration{-time.Second} },
		"empty schedule":   func(c *refund.Config) { c.Schedule = []time.Duration{} },
		"negative lease":   func(c *refund.Config) { c.Lease = -time.Second },
		"negative batch":   func(c *refund.Config) { c.Batch = -1 },
		"nil client":       func(c *refund.Config) { c.Clients = []*client.Client{nil} },
	} {
		cfg := refund.Config{Store: e.Mem, Client: e.Clients[model.V2], Logger: handlertest.QuietLogger()}
		mod(&cfg)
		if _, err := refund.New(cfg); err == nil {
			t.Errorf("%s: refund.New accepted the config", name)
		}
	}
	cfg := refund.Config{Store: e.Mem, Client: e.Clients[model.V2], Logger: handlertest.QuietLogger(),
		Schedule: []time.Duration{time.Nanosecond}}
	if _, err := refund.New(cfg); err != nil {
		t.Errorf("a 1 ns delay: refund.New: %v", err)
	}
}

// TestRefunderSchedulesAreCopies: the default schedule is a fresh slice
// for each caller, and a Refunder keeps its own copy of Config.Schedule,
// so no host changes the schedule of another (or of a running Refunder)
// by writing to a slice it was given.
func TestRefunderSchedulesAreCopies(t *testing.T) {
	t.Parallel()
	d := refund.DefaultSchedule()
	d[0] = time.Nanosecond
	if got := refund.DefaultSchedule()[0]; got != time.Minute {
		t.Fatalf("DefaultSchedule()[0] after a caller wrote to its copy: got %v, want 1m", got)
	}
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RSC1", 1000)
	sched := []time.Duration{time.Hour}
	r := e.refunder(t, func(c *refund.Config) { c.Schedule = sched })
	sched[0] = time.Minute
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 100})
	got, err := e.Mem.GetRefund(context.Background(), v.OutRefundNo)
	if err != nil {
		t.Fatal(err)
	}
	if d := got.NextDue.Sub(got.CreatedAt); d != time.Hour {
		t.Errorf("first query due after %v, want the 1h the Refunder was made with", d)
	}
}

func TestRefundBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RX1", 1000)
	e.AddOrder("RX2", handlertest.MchA, 1000)
	unpaid := e.MustPreOrder(t, model.V2, "RX2", model.PayWeChat)
	r := e.refunder(t, nil)
	mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 600})
	tests := []struct {
		name string
		req  refund.Request
		want error
	}{
		{"zero", refund.Request{OutTradeNo: otn, Amount: 0}, refund.ErrAmount},
		{"negative", refund.Request{OutTradeNo: otn, Amount: -5}, refund.ErrAmount},
		// The amount is judged before anything is looked up.
		{"zero, unknown attempt", refund.Request{OutTradeNo: "NOSUCH123", Amount: 0}, refund.ErrAmount},
		{"zero, no order given", refund.Request{}, refund.ErrAmount},
		{"over refundable", refund.Request{OutTradeNo: otn, Amount: 401}, refund.ErrAmount},
		{"unknown attempt", refund.Request{OutTradeNo: "NOSUCH123", Amount: 1}, handler.ErrOrderNotFound},
		{"unknown business order", refund.Request{BusinessID: "NOSUCH", Amount: 1}, handler.ErrOrderNotFound},
		{"no order given", refund.Request{Amount: 1}, handler.ErrOrderNotFound},
		{"unpaid attempt", refund.Request{OutTradeNo: unpaid, Amount: 1}, refund.ErrNotRefundable},
		{"unpaid business order", refund.Request{BusinessID: "RX2", Amount: 1}, refund.ErrNotRefundable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Refund(context.Background(), tc.req); !errors.Is(err, tc.want) {
				t.Errorf("Refund: got %v, want %v", err, tc.want)
			}
		})
	}
	if got := e.simRefunds(otn); len(got) != 1 {
		t.Errorf("gateway refunds after bad requests: got %d, want the 1 good one", len(got))
	}
	if got := totals(t, e, otn); got.Reserved != 600 {
		t.Errorf("reserved after bad requests: got %d, want 600", got.Reserved)
	}
	if list, _ := e.Mem.ListRefunds(context.Background(), unpaid); len(list) != 0 {
		t.Errorf("refunds recorded for an unpaid attempt: %+v", list)
	}
}

// TestRefundUncertainReply: the refund is applied but its reply is lost,
// late, unsigned or signed with another key. The kit queries the number,
// finds the refund, and never sends another number.
func TestRefundUncertainReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults gatewaytest.Faults
	}{
		{"5xx", gatewaytest.Faults{RefundLostReplies: 1, RefundLostStatus: http.StatusBadGateway}},
		{"timeout", gatewaytest.Faults{RefundLostReplies: 1, RefundReplyDelay: time.Minute}},
		{"unsigned", gatewaytest.Faults{RefundUnsigned: true}},
		{"bad sign", gatewaytest.Faults{RefundWrongKey: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{clientTimeout: 2 * time.Second})
			otn := e.PaidAttempt(t, "RU1", 1000)
			e.Sim.SetFaults(otn, tc.faults)
			r := e.refunder(t, nil)
			v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 700})
			if v.Status != string(store.RefundSucceeded) {
				t.Fatalf("Refund after an uncertain reply: got %s, want SUCCESS (found by refundquery)", v.Status)
			}
			wantOneNumber(t, e, otn, v.OutRefundNo, 1)
		})
	}
}

// TestRefundUncertainThenPoll: reply lost and queries failing too: the
// refund stays PENDING under its number; the poller later finds it.
func TestRefundUncertainThenPoll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RP1", 1000)
	e.Sim.SetFaults(otn, gatewaytest.Faults{RefundLostReplies: 1, RefundQueryLost: 1})
	r := e.refunder(t, nil)
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 1000})
	if v.Status != string(store.RefundPending) {
		t.Fatalf("Refund with reply and query lost: got %s, want PENDING", v.Status)
	}
	if n, err := r.Poll(context.Background()); err != nil || n != 0 {
		t.Fatalf("Poll before due: got (%d, %v), want (0, nil)", n, err)
	}
	e.Clock.Advance(time.Minute)
	if n, err := r.Poll(context.Background()); err != nil || n != 1 {
		t.Fatalf("Poll when due: got (%d, %v), want (1, nil)", n, err)
	}
	got, err := r.Get(context.Background(), v.OutRefundNo)
	if err != nil || got.Status != string(store.RefundSucceeded) {
		t.Fatalf("refund after Poll: got %+v (%v), want SUCCESS", got, err)
	}
	wantOneNumber(t, e, otn, v.OutRefundNo, 1)
	if st := e.Get(t, otn).Status; st != store.Refunded {
		t.Errorf("attempt after its full refund: got %s, want REFUNDED", st)
	}
}

// TestRefundNotFoundResendsSameNumber: a refund recorded but never sent
// (the process died in between) is unknown to the gateway; Poll queries
// it, then sends it under the same number.
func TestRefundNotFoundResendsSameNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RN1", 1000)
	r := e.refunder(t, nil)
	// Enqueue records without calling the gateway: as if the process had
	// died between the record and the call.
	v, err := r.Enqueue(context.Background(), refund.Request{OutTradeNo: otn, Amount: 250})
	if err != nil || v.Status != string(store.RefundPending) {
		t.Fatalf("Enqueue: got %+v (%v), want PENDING", v, err)
	}
	if got := e.simRefunds(otn); len(got) != 0 {
		t.Fatalf("gateway refunds after Enqueue: got %+v, want none", got)
	}
	if n, err := r.Poll(context.Background()); err != nil || n != 1 {
		t.Fatalf("Poll: got (%d, %v), want (1, nil)", n, err)
	}
	got, _ := r.Get(context.Background(), v.OutRefundNo)
	if got.Status != string(store.RefundSucceeded) {
		t.Errorf("refund after Poll: got %s, want SUCCESS", got.Status)
	}
	wantOneNumber(t, e, otn, v.OutRefundNo, 1)
}

func TestRefundNotSureResendsSameNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RS1", 1000)
	e.Sim.SetFaults(otn, gatewaytest.Faults{RefundStatus: model.RefundNotSure})
	r := e.refunder(t, nil)
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 300})
	if v.Status != string(store.RefundSucceeded) {
		t.Fatalf("Refund answered NOTSURE: got %s, want SUCCESS after re-sending the same number", v.Status)
	}
	wantOneNumber(t, e, otn, v.OutRefundNo, 2)
}

func TestRefundProcessingThenSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RG1", 1000)
	e.Sim.SetFaults(otn, gatewaytest.Faults{RefundStatus: model.RefundProcessing})
	r := e.refunder(t, nil)
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 1000})
	if v.Status != string(store.RefundProcessing) {
		t.Fatalf("Refund: got %s, want PROCESSING", v.Status)
	}
	e.Clock.Advance(time.Minute)
	if n, _ := r.Poll(context.Background()); n != 1 {
		t.Fatalf("Poll after 1 min: handled %d, want 1", n)
	}
	if got, _ := r.Get(context.Background(), v.OutRefundNo); got.Status != string(store.RefundProcessing) {
		t.Fatalf("after a PROCESSING query: got %s, want PROCESSING", got.Status)
	}
	// The next query is 5 minutes later: not before.
	e.Clock.Advance(4 * time.Minute)
	if n, _ := r.Poll(context.Background()); n != 0 {
		t.Fatalf("Poll 5 min after creation: handled %d, want 0 (next due at 6 min)", n)
	}
	if err := e.Sim.SetRefundStatus(v.OutRefundNo, model.RefundSuccess); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	if n, _ := r.Poll(context.Background()); n != 1 {
		t.Fatalf("Poll at 6 min: handled %d, want 1", n)
	}
	if got, _ := r.Get(context.Background(), v.OutRefundNo); got.Status != string(store.RefundSucceeded) {
		t.Fatalf("after the gateway finished: got %s, want SUCCESS", got.Status)
	}
	if st := e.Get(t, otn).Status; st != store.Refunded {
		t.Errorf("attempt: got %s, want REFUNDED", st)
	}
	wantOneNumber(t, e, otn, v.OutRefundNo, 1)
}

// TestRefundFailReleases: a definitive FAIL releases the amount, and the
// next refund gets a new number.
func TestRefundFailReleases(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RF1", 1000)
	e.Sim.SetFaults(otn, gatewaytest.Faults{RefundStatus: model.RefundFail})
	r := e.refunder(t, nil)
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 1000})
	if v.Status != string(store.RefundFailed) {
		t.Fatalf("Refund: got %s, want FAIL", v.Status)
	}
	if got := totals(t, e, otn); got.Reserved != 0 {
		t.Fatalf("reserved after FAIL: got %d, want 0", got.Reserved)
	}
	e.Sim.SetFaults(otn, gatewaytest.Faults{})
	v2 := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 1000})
	if v2.Status != string(store.RefundSucceeded) || v2.OutRefundNo == v.OutRefundNo {
		t.Fatalf("refund after a FAIL: got %+v, want SUCCESS under a new number", v2)
	}
}

// TestRefundRefusedStaysReserved: the gateway refuses the refund (20008,
// it counts refunds made elsewhere) and does not know the number. Both are
// unsigned error replies, which a party on the path could forge for a
// refund the gateway made (guarantee G14): the refund is not recorded
// FAIL, its amount stays reserved, an AlertRefundUnconfirmed goes out, and
// a later poll sends it again under the same number, never a new one.
// Plant killed: recording FAIL on the pair, as before.
func TestRefundRefusedStaysReserved(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RR1", 1000)
	if _, err := e.Clients[model.V2].Refund(context.Background(), &model.RefundRequest{
		PayType: model.PayWeChat, MchID: handlertest.MchA, OutTradeNo: otn, OutRefundNo: "ELSEWHERE1", TotalFee: 1000, RefundFee: 800,
	}); err != nil {
		t.Fatal(err)
	}
	r := e.refunder(t, nil)
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 500})
	if v.Status != string(store.RefundPending) {
		t.Fatalf("refund refused on unsigned errors: got %s, want PENDING (undecided)", v.Status)
	}
	if got := totals(t, e, otn); got.Reserved != 500 {
		t.Errorf("reserved after an unsigned refusal: got %d, want 500 (kept)", got.Reserved)
	}
	alerts := e.Rec.Alerts()
	if len(alerts) != 1 || alerts[0].Kind != handler.AlertRefundUnconfirmed || alerts[0].OutRefundNo != v.OutRefundNo {
		t.Fatalf("alerts: got %+v, want one %s for %s", alerts, handler.AlertRefundUnconfirmed, v.OutRefundNo)
	}
	e.Clock.Advance(time.Hour)
	if _, err := r.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Get(context.Background(), v.OutRefundNo); got.Final() {
		t.Fatalf("after a poll: got %s, want still in flight", got.Status)
	}
	if list, err := r.List(context.Background(), otn); err != nil || len(list) != 1 || list[0].OutRefundNo != v.OutRefundNo {
		t.Fatalf("refunds of the order: got %+v, %v; want only %s (never a new number)", list, err, v.OutRefundNo)
	}
}

func TestRefundChangeAlerts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RC1", 1000)
	e.Sim.SetFaults(otn, gatewaytest.Faults{RefundStatus: model.RefundChange})
	r := e.refunder(t, nil)
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 400})
	if v.Status != string(store.RefundChanged) {
		t.Fatalf("Refund: got %s, want CHANGE", v.Status)
	}
	alerts := e.Rec.Alerts()
	if len(alerts) != 1 || alerts[0].Kind != handler.AlertRefundChange || alerts[0].OutRefundNo != v.OutRefundNo {
		t.Fatalf("alerts: got %+v, want one %s for %s", alerts, handler.AlertRefundChange, v.OutRefundNo)
	}
	if got := totals(t, e, otn); got.Reserved != 400 || got.Refunded != 0 {
		t.Errorf("totals after CHANGE: got %+v, want 400 reserved (never refunded twice), 0 refunded", got)
	}
	if n, _ := r.Poll(context.Background()); n != 0 {
		t.Errorf("Poll after CHANGE: handled %d, want 0 (final)", n)
	}
}

// TestRefundPollSharedAcrossInstances: two Refunders on one store poll
// the same due refunds at once; each refund is handled by one of them.
func TestRefundPollSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RM1", 1000)
	a, b := e.refunder(t, nil), e.refunder(t, nil)
	const n = 10
	for i := 0; i < n; i++ {
		if _, err := a.Enqueue(context.Background(), refund.Request{OutTradeNo: otn, Amount: 10}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, r := range []*refund.Refunder{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], _ = r.Poll(context.Background())
		}()
	}
	wg.Wait()
	if counts[0]+counts[1] != n {
		t.Errorf("two pollers handled %d + %d refunds, want %d in all", counts[0], counts[1], n)
	}
	for _, x := range e.simRefunds(otn) {
		if x.Requests != 1 {
			t.Errorf("refund %s sent %d times, want once", x.OutRefundNo, x.Requests)
		}
	}
	if got := len(e.simRefunds(otn)); got != n {
		t.Errorf("gateway refunds: got %d, want %d", got, n)
	}
}

// TestRefundStaleWorkerFenced: a worker whose claim lapsed while it was
// stuck cannot overwrite what the worker that took over recorded.
func TestRefundStaleWorkerFenced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RW1", 1000)
	ref, _, err := e.Mem.ReserveRefund(context.Background(), &store.Refund{OutTradeNo: otn, Amount: 100,
		CreatedAt: e.Clock.Now(), NextDue: e.Clock.Now()}, time.Minute, e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(2 * time.Minute)
	r := e.refunder(t, nil)
	if n, _ := r.Poll(context.Background()); n != 1 {
		t.Fatalf("Poll after the first claim lapsed: handled %d, want 1", n)
	}
	_, err = e.Mem.UpdateRefund(context.Background(), ref.OutRefundNo, ref.ClaimToken,
		store.RefundUpdate{State: store.RefundFailed}, e.Clock.Now())
	if !errors.Is(err, store.ErrNotHeld) && !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale worker's write: got %v, want it refused", err)
	}
	if got, _ := r.Get(context.Background(), ref.OutRefundNo); got.Status != string(store.RefundSucceeded) {
		t.Errorf("refund: got %s, want SUCCESS as the new holder recorded", got.Status)
	}
}

func TestStatusShowsRefunds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RV1", 1000)
	r := e.refunder(t, nil)
	view := func() handler.OrderView {
		t.Helper()
		resp, err := http.Get(e.Server.URL + "/orders/" + otn)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v handler.OrderView
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := view(); v.Refunded != 0 || v.RefundState != "" {
		t.Errorf("before refunds: got refunded %d %q, want 0 and none", v.Refunded, v.RefundState)
	}
	e.Sim.SetFaults(otn, gatewaytest.Faults{RefundStatus: model.RefundProcessing})
	mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 100})
	e.Sim.SetFaults(otn, gatewaytest.Faults{})
	mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 300})
	if v := view(); v.Refunded != 300 || v.RefundState != handler.PartlyRefunded || v.Status != string(store.Paid) {
		t.Errorf("partly refunded (one in flight): got %d %q %s, want 300 %s PAID", v.Refunded, v.RefundState, v.Status, handler.PartlyRefunded)
	}
	mustRefund(t, r, refund.Request{BusinessID: "RV1", Amount: 600})
	if v := view(); v.Refunded != 900 || v.RefundState != handler.PartlyRefunded {
		t.Errorf("900 of 1000 refunded: got %d %q", v.Refunded, v.RefundState)
	}
	for _, x := range e.simRefunds(otn) {
		if x.Status == model.RefundProcessing {
			if err := e.Sim.SetRefundStatus(x.OutRefundNo, model.RefundSuccess); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.Clock.Advance(time.Minute)
	if _, err := r.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := view(); v.Refunded != 1000 || v.RefundState != handler.FullyRefunded || v.Status != string(store.Refunded) {
		t.Errorf("fully refunded: got %d %q %s, want 1000 %s REFUNDED", v.Refunded, v.RefundState, v.Status, handler.FullyRefunded)
	}
}

// TestReconcilerPollsRefunds: given a Refunder, each reconcile pass also
// drives the refunds that are due.
func TestReconcilerPollsRefunds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RZ1", 1000)
	r := e.refunder(t, nil)
	v, err := r.Enqueue(context.Background(), refund.Request{OutTradeNo: otn, Amount: 100})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Refunder: r, Logger: handlertest.QuietLogger(), Now: e.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Get(context.Background(), v.OutRefundNo); got.Status != string(store.RefundSucceeded) {
		t.Errorf("refund after a reconcile pass: got %s, want SUCCESS", got.Status)
	}
}

// TestNilRefunderMeansOff: a host that keeps its refunder in a variable of
// type *refund.Refunder and leaves it nil gives handler's config fields an
// interface holding a nil pointer; that still means off, as the fields'
// documentation says, not a call on nil.
func TestNilRefunderMeansOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	var none *refund.Refunder
	rec, err := handler.NewReconciler(handler.ReconcilerConfig{
		Settler: e.Settler, Client: e.Clients[model.V2], Refunder: none, Logger: handlertest.QuietLogger(), Now: e.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestRefunderRunBounds: Run refuses an interval that is not positive (a
// ticker cannot take one, and a zero interval would be a busy loop) and
// returns the context's error once it ends.
func TestRefunderRunBounds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.refunder(t, nil)
	for _, d := range []time.Duration{0, -time.Second} {
		if err := r.Run(context.Background(), d); err == nil {
			t.Errorf("Run(%v): got nil, want an error", d)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, time.Hour) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run with an ended context: got %v, want context.Canceled", err)
		}
	case <-time.After(bound):
		t.Fatalf("Run did not return within %v of its context's end", bound)
	}
}

// scriptedClaims is a refund store whose ClaimRefunds answers from a
// script, one step per call: nil claims nothing, an error fails the pass,
// and the last step ends the run's context before it fails.
type scriptedClaims struct {
	*memstore.Store
	steps  []error
	cancel context.CancelFunc
	calls  int
}

func (s *scriptedClaims) ClaimRefunds(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Refund, error) {
	i := s.calls
	s.calls++
	if i >= len(s.steps)-1 {
		s.cancel()
		return nil, ctx.Err()
	}
	return nil, s.steps[i]
}

// TestRefunderRunLogsFailedPolls: Run logs a pass that failed while its
// context was alive, once, and keeps going; a pass that went well logs
// nothing, and the pass cut short by the context's end is no failure to
// log. Mutants killed (gremlins, refund.go Run): "err != nil" negated
// (a log line for every good pass, from a nil error) and "ctx.Err() ==
// nil" negated (the real failure unlogged, the shutdown logged).
func TestRefunderRunLogsFailedPolls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	claims := &scriptedClaims{Store: e.Mem, steps: []error{nil, errors.New("test: database away"), nil, nil}, cancel: cancel}
	var logs bytes.Buffer
	r := e.refunder(t, func(c *refund.Config) {
		c.Refunds, c.Logger = claims, slog.New(slog.NewTextHandler(&logs, nil))
	})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, time.Millisecond) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run: got %v, want context.Canceled", err)
		}
	case <-time.After(bound):
		t.Fatalf("Run did not return within %v", bound)
	}
	if n := strings.Count(logs.String(), "refund poll failed"); n != 1 || !strings.Contains(logs.String(), "database away") {
		t.Errorf("logs %q: got %d failed polls logged, want 1 naming the database error", logs.String(), n)
	}
	if claims.calls != 4 {
		t.Errorf("passes: got %d, want 4 (good, failed, good, cut short)", claims.calls)
	}
}

// TestRefundDriveCallBound: one drive makes at most four gateway calls.
// Here the gateway's signed refundquery keeps saying NOTSURE after the
// refund is sent again, so the drive would go on; it stops after send,
// query, send, query, with the refund in flight and its amount reserved,
// and the poller goes on later. Mutant killed (gremlins, refund_drive.go):
// the bound "calls < maxRefundCalls" loosened to "<=", a fifth call.
func TestRefundDriveCallBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "RBOUND1", 1000)
	e.OnPath.RewriteEach(client.OpRefundQuery, func(form url.Values, reply map[string]string) {
		gatewaytest.Replace(refundListReply(otn, form.Get("out_refund_no"), 400, string(model.RefundNotSure)))(reply)
		gatewaytest.Resign("", handlertest.KeyA)(reply)
	})
	r := e.refunder(t, nil)
	v := mustRefund(t, r, refund.Request{OutTradeNo: otn, Amount: 400})
	if v.Status != string(store.RefundProcessing) {
		t.Errorf("Refund: got %s, want PROCESSING (accepted, still open)", v.Status)
	}
	// Two sends of the one number; the two queries are the other calls.
	wantOneNumber(t, e, otn, v.OutRefundNo, 2)
	if got := totals(t, e, otn); got.Reserved != 400 {
		t.Errorf("reserved: got %d, want 400", got.Reserved)
	}
}
