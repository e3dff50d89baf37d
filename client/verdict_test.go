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

// TestPreOrderCodeVerdict: a signed pre-order reply with trade_state
// SUCCESS is a pre-order made when its code is 10000 or absent, and an
// error for any other code: a code that is not success never becomes a
// code_url for the buyer.
func TestPreOrderCodeVerdict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, code string
		ok         bool
	}{
		{"code 10000", "10000", true},
		{"no code", "", true},
		{"code 10003", "10003", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw := newFake(t, func(received) (int, string) {
				fields := map[string]string{"state": "SUCCESS", "trade_state": "SUCCESS", "mch_id": mchID,
					"out_trade_no": "ORDER00001", "nonce_str": "n1", "code_url": "weixin://wxpay/bizpayurl?pr=abc"}
				if tc.code != "" {
					fields["code"] = tc.code
				}
				return http.StatusOK, signedJSON(t, merchantKey, fields)
			})
			c := newClient(t, model.V2, gw.srv.URL)
			resp, err := c.PreOrder(context.Background(), preOrderReq(model.PayWeChat))
			if tc.ok && (err != nil || resp.CodeURL == "") {
				t.Errorf("PreOrder: got %v, want the code_url", err)
			}
			var ge *client.GatewayError
			if !tc.ok && (resp != nil || !errors.As(err, &ge) || !errors.Is(err, client.ErrGateway)) {
				t.Errorf("PreOrder: got a reply %v and %v, want no reply and a gateway error", resp != nil, err)
			}
		})
	}
}

// TestDefaultHTTPTimeout: without Config.HTTPClient, calls give up after
// 15 s, as the gateway maintainer's own tool does; a zero timeout would
// wait on a silent gateway for as long as the caller's context allows,
// which may be forever.
func TestDefaultHTTPTimeout(t *testing.T) {
	t.Parallel()
	c := newClient(t, model.V2, "https://gateway.invalid")
	if got := client.HTTPTimeout(c); got != 15*time.Second {
		t.Errorf("default HTTP timeout: got %v, want 15s", got)
	}
	own := &http.Client{Timeout: 3 * time.Second}
	c = newClient(t, model.V2, "https://gateway.invalid", func(cfg *client.Config) { cfg.HTTPClient = own })
	if got := client.HTTPTimeout(c); got != own.Timeout {
		t.Errorf("HTTP timeout with Config.HTTPClient: got %v, want its own %v", got, own.Timeout)
	}
}

// TestUnverifiedError: the error of an unverified reply matches its reason
// and, for a sign that does not verify, the verification's own error; its
// text names the method, the detail when there is one, and the reply's
// state, code and trade_state that were sent (for the log), and no key.
func TestUnverifiedError(t *testing.T) {
	t.Parallel()
	reply := map[string]string{"state": "SUCCESS", "code": "10004", "msg": "closed", "mch_id": mchID, "out_trade_no": "ORDER00001"}
	for _, tc := range []struct {
		name       string
		body       string
		reason     error
		detail     error
		wantInText []string
	}{
		{"unsigned", unsignedJSON(t, reply), client.ErrUnsigned, nil,
			[]string{"orderquery", `state="SUCCESS"`, `code="10004"`}},
		{"another key", signedJSON(t, "not-the-merchant-key-0123456789", reply), client.ErrResponseSign, sign.ErrBadSign,
			[]string{"orderquery", sign.ErrBadSign.Error(), `state="SUCCESS"`, `code="10004"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw := newFake(t, func(received) (int, string) { return http.StatusOK, tc.body })
			c := newClient(t, model.V2, gw.srv.URL)
			_, err := c.OrderQuery(context.Background(), queryReq())
			var u *client.Unverified
			if !errors.As(err, &u) || !errors.Is(err, tc.reason) {
				t.Fatalf("OrderQuery: got %v, want an *Unverified for %v", err, tc.reason)
			}
			if tc.detail != nil && !errors.Is(err, tc.detail) {
				t.Errorf("error %v does not match the verification's %v", err, tc.detail)
			}
			text := err.Error()
			for _, want := range tc.wantInText {
				if !strings.Contains(text, want) {
					t.Errorf("Error() = %q, want it to hold %q", text, want)
				}
			}
			// No trade_state was sent: none is shown, nor an empty one; and
			// no nil detail.
			for _, never := range []string{"trade_state", "<nil>"} {
				if strings.Contains(text, never) {
					t.Errorf("Error() = %q holds %q", text, never)
				}
			}
			noSecrets(t, err)
		})
	}
}
