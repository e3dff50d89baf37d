package gatewaytest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// post signs params with key and POSTs them to the v2 gateway, returning
// the HTTP status and body without judging them.
func post(t testing.TB, s *Server, params url.Values, key string, timeout time.Duration) (int, string, error) {
	t.Helper()
	sg, err := sign.Sign(params, key, sign.MD5)
	if err != nil {
		t.Fatal(err)
	}
	params.Set("sign", sg)
	c := &http.Client{Timeout: timeout}
	resp, err := c.PostForm(s.URL+gw, params)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b := new(strings.Builder)
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String(), nil
}

func refundParams(out, no string, total, fee int64) url.Values {
	return v2("refund", "mch_id", mch1, "paytype", "WECHAT", "out_trade_no", out,
		"out_refund_no", no, "total_fee", itoa(total), "refund_fee", itoa(fee), "op_user_id", mch1)
}

func queryRefund(t testing.TB, s *Server, no string) model.RefundItem {
	t.Helper()
	r := call(t, s.URL, gw, v2("refundquery", "mch_id", mch1, "paytype", "WECHAT", "out_refund_no", no), key1)
	var items []model.RefundItem
	if err := json.Unmarshal([]byte(r["refund_list"]), &items); err != nil || len(items) != 1 {
		t.Fatalf("refundquery %s: got %v (%v), want one refund", no, r, err)
	}
	return items[0]
}

// paidOrder pre-orders and pays out for 100 fen, with faults f.
func paidOrder(t testing.TB, s *Server, out string, f Faults) {
	t.Helper()
	s.SetFaults(out, f)
	mustPreOrder(t, s, out, "")
	if err := s.Pay(out); err != nil {
		t.Fatal(err)
	}
}

func TestRefundStatusFaults(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	tests := []struct {
		out          string
		status, want model.RefundStatus
		refunded     int64
	}{
		{"RS00001", "", model.RefundSuccess, 60},
		{"RS00002", model.RefundProcessing, model.RefundProcessing, 60},
		{"RS00003", model.RefundNotSure, model.RefundNotSure, 60},
		{"RS00004", model.RefundChange, model.RefundChange, 60},
		{"RS00005", model.RefundFail, model.RefundFail, 0},
	}
	for _, tc := range tests {
		paidOrder(t, s, tc.out, Faults{RefundStatus: tc.status})
		no := "TK-" + tc.out
		if r := doRefund(t, s, tc.out, no, 100, 60); r["code"] != "10000" || !isSigned(r, key1) {
			t.Fatalf("refund %s: got %v, want an accepted, signed reply", no, r)
		}
		if got := queryRefund(t, s, no).RefundStatus; got != tc.want {
			t.Errorf("refund_status of %s: got %s, want %s", no, got, tc.want)
		}
		if o, _ := s.Order(tc.out); o.Refunded != tc.refunded {
			t.Errorf("%s refunded: got %d, want %d", tc.out, o.Refunded, tc.refunded)
		}
	}
	// PROCESSING completes later.
	if err := s.SetRefundStatus("TK-RS00002", model.RefundSuccess); err != nil {
		t.Fatal(err)
	}
	if got := queryRefund(t, s, "TK-RS00002").RefundStatus; got != model.RefundSuccess {
		t.Errorf("after SetRefundStatus: got %s, want SUCCESS", got)
	}
	// NOTSURE: the same number sent again succeeds, as one refund.
	doRefund(t, s, "RS00003", "TK-RS00003", 100, 60)
	if got := queryRefund(t, s, "TK-RS00003").RefundStatus; got != model.RefundSuccess {
		t.Errorf("NOTSURE re-sent: got %s, want SUCCESS", got)
	}
	if got := s.Refunds("RS00003"); len(got) != 1 || got[0].Requests != 2 {
		t.Errorf("NOTSURE re-sent: got %+v, want one refund asked twice", got)
	}
	// FAIL released the amount: the whole order can still be refunded.
	if r := doRefund(t, s, "RS00005", "TK-RS00005-2", 100, 100); r["code"] != "10000" {
		t.Errorf("refund after a FAIL: got %v, want accepted", r)
	}
	// Over what is refundable: 20008.
	expectFail(t, doRefund(t, s, "RS00001", "TK-RS00001-2", 100, 41), "20008")
	if err := s.SetRefundStatus("TK-NONE", model.RefundSuccess); err != ErrUnknownRefund {
		t.Errorf("SetRefundStatus(unknown): got %v, want %v", err, ErrUnknownRefund)
	}
}

// TestRefundTimeFormats: refund_time comes dashed for odd serial numbers
// and as yyyyMMddHHmmss for even ones; both parse.
func TestRefundTimeFormats(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	paidOrder(t, s, "RT00001", Faults{})
	doRefund(t, s, "RT00001", "TK-A", 100, 10)
	doRefund(t, s, "RT00001", "TK-B", 100, 10)
	a, b := queryRefund(t, s, "TK-A").RefundTime, queryRefund(t, s, "TK-B").RefundTime
	if !strings.Contains(a, "-") || strings.Contains(b, "-") {
		t.Errorf("refund_time: got %q and %q, want the dashed form first, then yyyyMMddHHmmss", a, b)
	}
	for _, v := range []string{a, b} {
		if _, err := model.ParseTime(v); err != nil {
			t.Errorf("refund_time %q: %v", v, err)
		}
	}
}

func TestRefundReplyFaults(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	tests := []struct {
		name  string
		f     Faults
		check func(t *testing.T, status int, body string, err error)
	}{
		{"5xx", Faults{RefundLostReplies: 1}, func(t *testing.T, status int, body string, err error) {
			if err != nil || status != http.StatusBadGateway || body != "" {
				t.Errorf("got (%d, %q, %v), want 502 with no body", status, body, err)
			}
		}},
		{"timeout", Faults{RefundLostReplies: 1, RefundReplyDelay: time.Minute}, func(t *testing.T, status int, body string, err error) {
			if err == nil {
				t.Errorf("got (%d, %q), want the client to time out", status, body)
			}
		}},
		{"unsigned", Faults{RefundUnsigned: true}, func(t *testing.T, status int, body string, err error) {
			if err != nil || !strings.Contains(body, `"state":"SUCCESS"`) || strings.Contains(body, `"sign"`) {
				t.Errorf("got (%d, %q, %v), want SUCCESS without sign", status, body, err)
			}
		}},
		{"wrong key", Faults{RefundWrongKey: true}, func(t *testing.T, status int, body string, err error) {
			var m map[string]string
			if err != nil || json.Unmarshal([]byte(body), &m) != nil || m["sign"] == "" || isSigned(m, key1) {
				t.Errorf("got (%d, %q, %v), want a sign that does not verify", status, body, err)
			}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := "RL0000" + itoa(int64(i+1))
			paidOrder(t, s, out, tc.f)
			status, body, err := post(t, s, refundParams(out, "TK-"+out, 100, 70), key1, time.Second)
			tc.check(t, status, body, err)
			if got := s.Refunds(out); len(got) != 1 || got[0].Fee != 70 {
				t.Errorf("refunds after a lost or bad reply: got %+v, want the refund applied", got)
			}
			// The next reply is whole.
			if r := doRefund(t, s, out, "TK-"+out, 100, 70); tc.f.RefundLostReplies > 0 && (r["code"] != "10000" || !isSigned(r, key1)) {
				t.Errorf("repeat after a lost reply: got %v, want the refund answered", r)
			}
			if got := s.Refunds(out); len(got) != 1 {
				t.Errorf("refunds after the repeat: got %d, want still 1", len(got))
			}
		})
	}
}

func TestRefundQueryLost(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	paidOrder(t, s, "RQ00001", Faults{RefundQueryLost: 1})
	doRefund(t, s, "RQ00001", "TK-Q", 100, 10)
	status, body, err := post(t, s, v2("refundquery", "mch_id", mch1, "paytype", "WECHAT", "out_refund_no", "TK-Q"), key1, 5*time.Second)
	if err != nil || status != http.StatusBadGateway || body != "" {
		t.Fatalf("first refundquery: got (%d, %q, %v), want 502 with no body", status, body, err)
	}
	if got := queryRefund(t, s, "TK-Q").RefundStatus; got != model.RefundSuccess {
		t.Errorf("second refundquery: got %s, want SUCCESS", got)
	}
}
