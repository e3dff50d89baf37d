package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// The boundaries a mutation run over client/ found untested: the reply
// size bound, the 2xx range, and a reply member that is a JSON array.

// replyLimit is the client's bound on a reply body (maxResponse).
const replyLimit = 1 << 20

// padded returns reply with JSON whitespace after it up to n bytes: the
// sign covers the members, not the whitespace.
func padded(reply func(r received) (int, string), n int) func(r received) (int, string) {
	return func(r received) (int, string) {
		status, body := reply(r)
		return status, body + strings.Repeat(" ", n-len(body))
	}
}

func TestReplySizeBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := newFake(t, padded(okReply(t), replyLimit))
	c := newClient(t, model.V2, gw.srv.URL)
	if _, err := c.OrderQuery(ctx, queryReq()); err != nil {
		t.Errorf("OrderQuery with a reply of exactly %d bytes: %v", replyLimit, err)
	}
	gw.setReply(padded(okReply(t), replyLimit+1))
	if _, err := c.OrderQuery(ctx, queryReq()); !errors.Is(err, client.ErrUnknownOutcome) {
		t.Errorf("OrderQuery with a reply of %d bytes: got %v, want %v", replyLimit+1, err, client.ErrUnknownOutcome)
	}
}

func TestReplyStatus2xx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		status int
		ok     bool
	}{{200, true}, {299, true}, {300, false}} {
		gw := newFake(t, func(r received) (int, string) {
			_, body := okReply(t)(r)
			return tc.status, body
		})
		c := newClient(t, model.V2, gw.srv.URL)
		_, err := c.OrderQuery(ctx, queryReq())
		var ge *client.GatewayError
		if tc.ok && err != nil || !tc.ok && !(errors.As(err, &ge) && ge.HTTPStatus == tc.status) {
			t.Errorf("OrderQuery answered HTTP %d: got %v, want ok %v", tc.status, err, tc.ok)
		}
	}
}

// TestReplyMemberArray: a refund_list sent as a JSON array rather than as
// a string holding one is read as its compact text, the text it is signed
// over.
func TestReplyMemberArray(t *testing.T) {
	t.Parallel()
	const list = `[{"out_refund_no":"R0001","refund_fee":50,"refund_status":"SUCCESS"}]`
	fields := map[string]string{
		"state": "SUCCESS", "code": "10000", "msg": "SUCCESS", "trade_state": "SUCCESS",
		"mch_id": mchID, "nonce_str": "n1", "refund_count": "1", "refund_list": list,
	}
	sg, err := sign.SignMap(fields, merchantKey, sign.MD5)
	if err != nil {
		t.Fatal(err)
	}
	fields["sign"] = sg
	delete(fields, "refund_list")
	body := unsignedJSON(t, fields)
	body = body[:len(body)-1] + `,"refund_list": [ {"out_refund_no": "R0001", "refund_fee": 50, "refund_status": "SUCCESS"} ]}`
	gw := newFake(t, func(received) (int, string) { return http.StatusOK, body })
	c := newClient(t, model.V2, gw.srv.URL)
	rq, err := c.RefundQuery(context.Background(), &model.RefundQueryRequest{PayType: model.PayWeChat, MchID: mchID, OutRefundNo: "R0001"})
	if err != nil {
		t.Fatalf("RefundQuery: %v", err)
	}
	if rq.RefundList != list {
		t.Errorf("refund_list: got %q, want %q", rq.RefundList, list)
	}
}

// TestDefaultNonce: with no Config.Nonce each request carries 128 random
// bits as 32 hex digits, not a clock reading.
func TestDefaultNonce(t *testing.T) {
	t.Parallel()
	gw := newFake(t, okReply(t))
	c := newClient(t, model.V2, gw.srv.URL, func(cfg *client.Config) { cfg.Nonce = nil })
	for i := 0; i < 2; i++ {
		if _, err := c.OrderQuery(context.Background(), queryReq()); err != nil {
			t.Fatal(err)
		}
	}
	reqs := gw.requests()
	a, b := reqs[0].Form.Get("nonce_str"), reqs[1].Form.Get("nonce_str")
	for _, n := range []string{a, b} {
		if len(n) != 32 || strings.Trim(n, "0123456789abcdef") != "" {
			t.Errorf("nonce_str %q: want 32 lower-case hex digits", n)
		}
	}
	if a == b {
		t.Errorf("two requests share nonce_str %q", a)
	}
}

// TestGatewayErrorText: trade_state is named when sent and only then; the
// gateway's msg is cut after 200 bytes, and only when longer, on a
// character boundary.
func TestGatewayErrorText(t *testing.T) {
	t.Parallel()
	e := &client.GatewayError{Op: "orderquery", State: model.StateFail, Code: "20002", TradeState: "NOTPAY", Msg: "x"}
	if s := e.Error(); !strings.Contains(s, "trade_state NOTPAY") {
		t.Errorf("Error() = %q: want trade_state NOTPAY in it", s)
	}
	e.TradeState = ""
	if s := e.Error(); strings.Contains(s, "trade_state") {
		t.Errorf("Error() = %q: want no trade_state when none was sent", s)
	}
	for _, tc := range []struct {
		msg, want string
	}{
		{"", ""},
		{"abc", `"abc"`},
		{strings.Repeat("m", 200), `"` + strings.Repeat("m", 200) + `"`},
		{strings.Repeat("m", 201), `"` + strings.Repeat("m", 200) + `…"`},
		// 200 bytes end inside the 67th 3-byte character: the cut goes
		// back to the last whole one, never a broken UTF-8 sequence.
		{"m" + strings.Repeat("订", 100), `"m` + strings.Repeat("订", 66) + `…"`},
	} {
		e.Msg = tc.msg
		s := e.Error()
		if tc.want == "" && strings.Contains(s, `"`) || tc.want != "" && !strings.HasSuffix(s, ": "+tc.want) {
			t.Errorf("Error() with a %d-byte msg = %q: want it to end in %q", len(tc.msg), s, tc.want)
		}
	}
}

// TestPaidReplyNeedsAmount: a signed paid order-query reply with neither
// base_fee nor total_fee is not acted on; either one is enough.
func TestPaidReplyNeedsAmount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		drop []string
		ok   bool
	}{
		{"both", nil, true},
		{"base_fee only", []string{"total_fee"}, true},
		{"total_fee only", []string{"base_fee"}, true},
		{"neither", []string{"base_fee", "total_fee"}, false},
	} {
		gw := newFake(t, func(r received) (int, string) {
			fields := map[string]string{
				"state": "SUCCESS", "code": "10000", "msg": "SUCCESS", "trade_state": "SUCCESS",
				"mch_id": r.Form.Get("mch_id"), "out_trade_no": r.Form.Get("out_trade_no"), "nonce_str": "n1",
				"transaction_id": "T100", "total_fee": "100", "base_fee": "100", "time_end": "20260101120000",
				"paytype": r.Form.Get("paytype"),
			}
			for _, k := range tc.drop {
				delete(fields, k)
			}
			return http.StatusOK, signedJSON(t, keyFor(r), fields)
		})
		c := newClient(t, model.V2, gw.srv.URL)
		_, err := c.OrderQuery(context.Background(), queryReq())
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, client.ErrMismatch) {
			t.Errorf("%s: got %v, want ok %v (else %v)", tc.name, err, tc.ok, client.ErrMismatch)
		}
	}
}

// TestEmptyKeyringRefused: a Keyring with no key at all cannot sign
// anything: Validate refuses it, whatever other field is also empty.
func TestEmptyKeyringRefused(t *testing.T) {
	t.Parallel()
	if err := (client.Keyring{}).Validate(); err == nil {
		t.Error("Keyring{}.Validate(): got nil, want an error")
	}
	if err := (client.Keyring{AgentID: "A1"}).Validate(); err == nil {
		t.Error("Keyring{AgentID}.Validate(): got nil, want an error (no key)")
	}
}

// TestWaitForPaymentEdges: the bounds 60 s and 180 s are allowed, and a
// timeout that is not a multiple of the poll interval ends with a shorter
// last wait, never past the deadline.
func TestWaitForPaymentEdges(t *testing.T) {
	t.Parallel()
	// Signed: an unsigned reply decides nothing and ends the wait at
	// once (guarantee G14), which is not the edge under test.
	unpaid := func(r received) (int, string) {
		return http.StatusOK, signedJSON(t, keyFor(r), map[string]string{"state": "SUCCESS", "code": "10003", "msg": "未支付"})
	}
	wait := func(reply func(received) (int, string), timeout time.Duration) (int, time.Duration, error) {
		gw := newFake(t, reply)
		clock := newFakeClock()
		start := clock.Now()
		c := newClient(t, model.V2, gw.srv.URL, func(cfg *client.Config) { cfg.Clock, cfg.Sleep = clock.Now, clock.Sleep })
		_, err := c.WaitForPayment(context.Background(), queryReq(), timeout)
		return len(gw.requests()), clock.Now().Sub(start), err
	}
	for _, d := range []time.Duration{client.MinWaitTimeout, client.MaxWaitTimeout} {
		if _, _, err := wait(okReply(t), d); err != nil {
			t.Errorf("WaitForPayment(%s): got %v, want a paid reply", d, err)
		}
	}
	_, _, err := wait(func(received) (int, string) { return http.StatusBadGateway, "" }, client.MinWaitTimeout)
	if !errors.Is(err, client.ErrStillPending) || !strings.Contains(err.Error(), "last query: client: orderquery: HTTP status 502") {
		t.Errorf("WaitForPayment with every query failing: got %v, want %v naming the last query's error", err, client.ErrStillPending)
	}
	_, _, err = wait(unpaid, client.MinWaitTimeout)
	if err == nil || strings.Contains(err.Error(), "last query") {
		t.Errorf("WaitForPayment, never paid: got %v, want no last query error in it", err)
	}
	queries, waited, err := wait(unpaid, 62*time.Second)
	if !errors.Is(err, client.ErrStillPending) || queries != 13 || waited != 62*time.Second {
		t.Errorf("WaitForPayment(62s), never paid: got %v after %d queries and %s, want %v after 13 and 62s", err, queries, waited, client.ErrStillPending)
	}
}
