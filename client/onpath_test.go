package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/model"
)

// replyVariants are the made-up answers a party on the path can give to
// every call: each state / trade_state / code the kit could decide on.
var replyVariants = []map[string]string{
	{"state": "SUCCESS", "code": "10000", "trade_state": "SUCCESS"},
	{"state": "SUCCESS", "code": "10001", "trade_state": "NEED_QUERY"},
	{"state": "SUCCESS", "code": "10002", "trade_state": "REFUND"},
	{"state": "SUCCESS", "code": "10003"},
	{"state": "SUCCESS", "code": "10004", "trade_state": "FAIL"},
	{"state": "SUCCESS", "code": "10005"},
	{"state": "SUCCESS", "code": "10006", "trade_state": "FAIL"},
	{"state": "SUCCESS", "trade_state": "FAIL"},
	{"state": "SUCCESS"},
	{"state": "SUCCESS", "code": "10000", "trade_state": "SUCCESS", "refund_count": "1",
		"refund_list": `[{"out_refund_no":"R1","refund_status":"FAIL"}]`},
	{"state": "SUCCESS", "code": "10000", "trade_state": "SUCCESS", "refund_status": "CHANGE"},
}

// call makes one call of op through c for an order the simulator knows.
func callOp(ctx context.Context, c *client.Client, op, otn string) error {
	var err error
	switch op {
	case client.OpPreOrder:
		r := simPreOrder(model.PayWeChat, model.TradeTypeNative)
		_, err = c.PreOrder(ctx, r)
	case client.OpOrderQuery:
		_, err = c.OrderQuery(ctx, &model.OrderQueryRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: otn})
	case client.OpCancel:
		// A fresh unpaid order each time: cancelling closes it.
		r := simPreOrder(model.PayWeChat, model.TradeTypeNative)
		if _, err := c.PreOrder(ctx, r); err != nil {
			return err
		}
		_, err = c.Cancel(ctx, &model.CancelRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: r.OutTradeNo})
	case client.OpRefund:
		// Refunding the same number again is answered like the first
		// time.
		_, err = c.Refund(ctx, &model.RefundRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: otn,
			OutRefundNo: "R" + otn, TotalFee: 1234, RefundFee: 1})
	case client.OpRefundQuery:
		_, err = c.RefundQuery(ctx, &model.RefundQueryRequest{PayType: model.PayWeChat, MchID: mchID, OutRefundNo: "R" + otn})
	}
	return err
}

var allOps = []string{client.OpPreOrder, client.OpOrderQuery, client.OpCancel, client.OpRefund, client.OpRefundQuery}

// TestUnsignedReplyNeverDecides: whatever an unsigned (or wrongly
// re-signed, or stripped) reply to any call says, the call returns an
// *Unverified error that is ErrUnsigned or ErrResponseSign and Uncertain,
// never a result; a plain error reply (state FAIL, a 2xxxx code) stays
// a *GatewayError, which decides nothing either.
func TestUnsignedReplyNeverDecides(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	path := gatewaytest.NewOnPath(nil)
	c := simClient(t, model.V2, sim, func(cfg *client.Config) { cfg.HTTPClient = &http.Client{Transport: path} })
	ctx := context.Background()

	// An order that is paid and refundable at the simulator, so that every
	// call has a genuine signed answer to tamper with.
	r := simPreOrder(model.PayWeChat, model.TradeTypeNative)
	if _, err := c.PreOrder(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := sim.Pay(r.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	for _, op := range allOps {
		// The genuine reply passes untouched ...
		if err := callOp(ctx, c, op, r.OutTradeNo); client.Unverifiable(err) {
			t.Fatalf("%s untouched: got %v", op, err)
		}
		// ... and is refused when its sign is stripped.
		path.Rewrite(op, gatewaytest.StripSign())
		err := callOp(ctx, c, op, r.OutTradeNo)
		if !errors.Is(err, client.ErrUnsigned) || !client.Uncertain(err) {
			t.Errorf("%s, sign stripped: got %v, want ErrUnsigned", op, err)
		}
		var u *client.Unverified
		if !errors.As(err, &u) || u.Op == "" || u.Fields["state"] != "SUCCESS" {
			t.Errorf("%s, sign stripped: got %#v, want an *Unverified keeping the reply", op, u)
		}
		for i, v := range replyVariants {
			for _, tc := range []struct {
				name string
				rw   []gatewaytest.Rewrite
				want error
			}{
				{"unsigned", []gatewaytest.Rewrite{gatewaytest.Replace(v)}, client.ErrUnsigned},
				{"wrong key", []gatewaytest.Rewrite{gatewaytest.Replace(v), gatewaytest.Resign("", "not-the-merchant-key-0123456789")}, client.ErrResponseSign},
				{"re-cut, old sign kept", []gatewaytest.Rewrite{gatewaytest.Set("code", v["code"]+"0")}, client.ErrResponseSign},
			} {
				path.Rewrite(op, tc.rw...)
				err := callOp(ctx, c, op, r.OutTradeNo)
				if !errors.Is(err, tc.want) || !client.Uncertain(err) || !client.Unverifiable(err) {
					t.Errorf("%s, variant %d %v, %s: got %v, want %v", op, i, v, tc.name, err, tc.want)
				}
			}
		}
		// A plain error reply comes unsigned: an error, never a result.
		path.Rewrite(op, gatewaytest.Replace(map[string]string{"state": "FAIL", "code": "20006", "msg": "系统错误"}))
		err = callOp(ctx, c, op, r.OutTradeNo)
		var ge *client.GatewayError
		if !errors.As(err, &ge) || client.Unverifiable(err) {
			t.Errorf("%s, unsigned error reply: got %v, want a *GatewayError", op, err)
		}
		path.Clear()
	}
}

// TestOrderQueryPaidReplyMustNameTheOrder: a signed paid reply that does
// not name the order asked about, or names another, is refused
// (ErrMismatch): a payment is acted on only with the facts that tie it to
// the attempt.
func TestOrderQueryPaidReplyMustNameTheOrder(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	path := gatewaytest.NewOnPath(nil)
	c := simClient(t, model.V2, sim, func(cfg *client.Config) { cfg.HTTPClient = &http.Client{Transport: path} })
	ctx := context.Background()
	r := simPreOrder(model.PayWeChat, model.TradeTypeNative)
	if _, err := c.PreOrder(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := sim.Pay(r.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	q := &model.OrderQueryRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: r.OutTradeNo}
	for name, rw := range map[string]gatewaytest.Rewrite{
		"out_trade_no dropped": gatewaytest.Drop("out_trade_no"),
		"another out_trade_no": gatewaytest.Set("out_trade_no", "SOMEONEELSE01"),
		"mch_id dropped":       gatewaytest.Drop("mch_id"),
	} {
		path.Rewrite(client.OpOrderQuery, rw, gatewaytest.Resign("", merchantKey))
		resp, err := c.OrderQuery(ctx, q)
		if !errors.Is(err, client.ErrMismatch) || resp != nil {
			t.Errorf("%s, signed: got %+v, %v, want ErrMismatch", name, resp, err)
		}
	}
	path.Clear()
	if resp, err := c.OrderQuery(ctx, q); err != nil || resp.Outcome() != model.OutcomePaid {
		t.Fatalf("genuine reply: got %+v, %v, want paid", resp, err)
	}
}
