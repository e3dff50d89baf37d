package client_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/internal/recut"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// queryDecided is what a host or the reconciler decides on in an order
// query reply.
type queryDecided struct {
	Outcome                                   model.Outcome
	State                                     model.State
	Code                                      model.Code
	TradeState                                model.TradeState
	MchID, OutTradeNo, TransactionID, TimeEnd string
	OutTransactionID                          string
	BaseFee, TotalFee                         int64
}

func queryDecidedOf(r *model.OrderQueryResponse) queryDecided {
	return queryDecided{r.Outcome(), r.State, r.Code, r.TradeState, r.MchID, r.OutTradeNo,
		r.TransactionID, r.TimeEnd, r.OutTransactionID, r.BaseFee, r.TotalFee}
}

// paidQueryFields is a paid order query reply, unsigned.
func paidQueryFields() map[string]string {
	return map[string]string{
		"state": "SUCCESS", "code": "10000", "msg": "SUCCESS", "trade_state": "SUCCESS",
		"mch_id": mchID, "out_trade_no": "ORDER00001", "transaction_id": "T100",
		"out_transaction_id": "4200000001", "total_fee": "1800", "base_fee": "1800",
		"time_end": "20260101120000", "paytype": "WECHAT", "nonce_str": "n1",
		"attach": "a&attacx=1",
	}
}

// TestReplyRecutProperty proves guarantee G10 for the client: every re-cut
// of a signed order query reply that keeps its sign makes OrderQuery fail,
// or return the same decided fields as the genuine reply.
func TestReplyRecutProperty(t *testing.T) {
	t.Parallel()
	genuine := paidQueryFields()
	s, err := sign.SignMap(genuine, merchantKey, sign.MD5)
	if err != nil {
		t.Fatal(err)
	}
	genuine["sign"] = s
	var body string
	f := newFake(t, func(received) (int, string) { return http.StatusOK, body })
	c := newClient(t, model.V2, f.srv.URL)
	body = unsignedJSON(t, genuine)
	resp, err := c.OrderQuery(context.Background(), queryReq())
	if err != nil {
		t.Fatalf("genuine reply: %v", err)
	}
	want := queryDecidedOf(resp)
	var names []string
	for _, fl := range model.ReplyFields() {
		names = append(names, fl.Name)
	}
	kept, refused := 0, 0
	for _, cut := range recut.All(genuine, names) {
		m := cut.Map()
		if len(m) != len(cut.Pairs) || sign.VerifyMap(m, sign.MD5, merchantKey) != nil {
			continue // JSON cannot repeat a name; or not a re-cut
		}
		kept++
		body = unsignedJSON(t, m)
		resp, err := c.OrderQuery(context.Background(), queryReq())
		if err != nil {
			refused++
			noSecrets(t, err)
			continue
		}
		if diff := cmp.Diff(want, queryDecidedOf(resp)); diff != "" {
			t.Errorf("%s: decided unlike the genuine reply (-genuine +re-cut):\n%s", cut.Name, diff)
		}
	}
	if kept < 100 || refused == 0 {
		t.Fatalf("only %d cuts kept the sign (%d refused): the generator is broken", kept, refused)
	}
}

// TestReplyRecutNamed: re-cuts of a signed paid query reply that keep its
// sign, and badly shaped values the gateway signed, are errors, never a
// paid reply with other facts.
func TestReplyRecutNamed(t *testing.T) {
	t.Parallel()
	fold := func(into, from, sendAs string) func(m map[string]string) {
		return func(m map[string]string) {
			m[into] += "&" + from + "=" + m[from]
			m[from] = sendAs
		}
	}
	tests := []struct {
		name   string
		edit   func(m map[string]string)
		resign bool
	}{
		{"trade_state folded into total_fee, sent blank", fold("total_fee", "trade_state", " "), false},
		{"transaction_id folded into trade_state, sent as U+3000", fold("trade_state", "transaction_id", "\u3000"), false},
		{"mch_id folded into code, sent blank", fold("code", "mch_id", ""), false},
		{"mch_id missing", func(m map[string]string) { delete(m, "mch_id") }, true},
		{"transaction_id missing", func(m map[string]string) { delete(m, "transaction_id") }, true},
		{"base_fee +1800", func(m map[string]string) { m["base_fee"] = "+1800" }, true},
		{"base_fee 01800", func(m map[string]string) { m["base_fee"] = "01800" }, true},
		{"total_fee with a space", func(m map[string]string) { m["total_fee"] = " 1800" }, true},
		{"trade_state spelt TRADE_STATE", func(m map[string]string) { m["TRADE_STATE"] = m["trade_state"]; delete(m, "trade_state") }, true},
		{"mch_id blank", func(m map[string]string) { m["mch_id"] = "" }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := paidQueryFields()
			if tc.resign {
				tc.edit(m)
			}
			s, err := sign.SignMap(m, merchantKey, sign.MD5)
			if err != nil {
				t.Fatal(err)
			}
			m["sign"] = s
			if !tc.resign {
				tc.edit(m)
				if err := sign.VerifyMap(m, sign.MD5, merchantKey); err != nil {
					t.Fatalf("the re-cut does not keep the sign: %v", err)
				}
			}
			f := newFake(t, func(received) (int, string) { return http.StatusOK, unsignedJSON(t, m) })
			resp, err := newClient(t, model.V2, f.srv.URL).OrderQuery(context.Background(), queryReq())
			if err == nil {
				t.Fatalf("got a reply %+v, want an error", queryDecidedOf(resp))
			}
		})
	}
}
