package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{mchID: merchantKey})}
	tests := []struct {
		name string
		cfg  client.Config
	}{
		{"unknown version", client.Config{Version: "v3", Keys: keys}},
		{"v2 without merchant keys", client.Config{Version: model.V2}},
		{"v1 without agent id", client.Config{Version: model.V1, Keys: client.Keyring{AgentKey: agentKey}}},
		{"v1 without agent key", client.Config{Version: model.V1, Keys: client.Keyring{AgentID: agentID}}},
		{"unknown algorithm", client.Config{Keys: keys, Algorithm: "CRC32"}},
		{"relative gateway URL", client.Config{Keys: keys, GatewayURL: "pay.storepos.cn"}},
		{"ftp gateway URL", client.Config{Keys: keys, GatewayURL: "ftp://pay.storepos.cn"}},
		{"unparsable open URL", client.Config{Keys: keys, OpenURL: "http://[::1"}},
		{"gateway URL with query", client.Config{Keys: keys, GatewayURL: "https://pay.storepos.cn/?x=1"}},
		{"padded pid", client.Config{Keys: keys, PID: " pos"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(tt.cfg)
			if err == nil {
				t.Fatalf("New: got client %v, want an error", c)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	c, err := client.New(client.Config{Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(nil)}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := c.Version(), model.V2; got != want {
		t.Errorf("Version: got %q, want %q", got, want)
	}
	if got, want := c.Algorithm(), sign.MD5; got != want {
		t.Errorf("Algorithm: got %q, want %q", got, want)
	}
}

func TestKeyring(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := map[string]string{mchID: merchantKey}
	kr := client.Keyring{AgentID: agentID, AgentKey: agentKey, MerchantKeys: client.StaticMerchantKeys(src)}
	src[mchID] = "changed-after-construction"

	tests := []struct {
		name    string
		v       model.Version
		mch     string
		want    []string
		wantErr error
	}{
		{"v2 known merchant", model.V2, mchID, []string{merchantKey}, nil},
		{"v2 unknown merchant", model.V2, "99999999", nil, client.ErrUnknownMerchant},
		{"v1 any merchant gets the agent key", model.V1, "99999999", []string{agentKey}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kr.Keys(ctx, tt.v, tt.mch)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Keys: got error %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Keys (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("result is a copy", func(t *testing.T) {
		rotating := client.Keyring{MerchantKeys: func(context.Context, string) ([]string, error) {
			return []string{merchantKey, oldMchKey}, nil
		}}
		got, err := rotating.Keys(ctx, model.V2, mchID)
		if err != nil {
			t.Fatal(err)
		}
		got[0] = "overwritten"
		again, _ := rotating.Keys(ctx, model.V2, mchID)
		if diff := cmp.Diff([]string{merchantKey, oldMchKey}, again); diff != "" {
			t.Errorf("Keys after mutating a result (-want +got):\n%s", diff)
		}
	})

	t.Run("empty keys are an unknown merchant", func(t *testing.T) {
		kr := client.Keyring{MerchantKeys: func(context.Context, string) ([]string, error) { return []string{""}, nil }}
		if _, err := kr.Keys(ctx, model.V2, mchID); !errors.Is(err, client.ErrUnknownMerchant) {
			t.Errorf("Keys: got %v, want ErrUnknownMerchant", err)
		}
	})
}

// TestRouting checks every call's endpoint, method, agent_id and key on
// both versions.
func TestRouting(t *testing.T) {
	t.Parallel()
	type call struct {
		name string
		do   func(context.Context, *client.Client) error
	}
	calls := map[string]call{}
	for _, ch := range []model.PayType{model.PayWeChat, model.PayAlipay, model.PayECNY} {
		calls["PreOrder_"+string(ch)] = call{"PreOrder_" + string(ch), func(ctx context.Context, c *client.Client) error {
			_, err := c.PreOrder(ctx, preOrderReq(ch))
			return err
		}}
	}
	calls["orderquery"] = call{"orderquery", func(ctx context.Context, c *client.Client) error {
		_, err := c.OrderQuery(ctx, queryReq())
		return err
	}}
	calls["cancel"] = call{"cancel", func(ctx context.Context, c *client.Client) error {
		_, err := c.Cancel(ctx, &model.CancelRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: "ORDER00001"})
		return err
	}}
	calls["refund"] = call{"refund", func(ctx context.Context, c *client.Client) error {
		_, err := c.Refund(ctx, &model.RefundRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: "ORDER00001",
			OutRefundNo: "R0001", TotalFee: 100, RefundFee: 50})
		return err
	}}
	calls["refundquery"] = call{"refundquery", func(ctx context.Context, c *client.Client) error {
		_, err := c.RefundQuery(ctx, &model.RefundQueryRequest{PayType: model.PayWeChat, MchID: mchID, OutRefundNo: "R0001"})
		return err
	}}

	tests := []struct {
		call       string
		v          model.Version
		path       string
		method     string // "" = no method parameter
		key        string
		wantAgent  bool
		wantOpUser bool
	}{
		{"PreOrder_WECHAT", model.V2, "/v2/UnifiedPay/Gateway", "PreOrder_WECHAT", merchantKey, false, false},
		{"PreOrder_ALIPAY", model.V2, "/v2/UnifiedPay/Gateway", "PreOrder_ALIPAY", merchantKey, false, false},
		{"PreOrder_ECNY", model.V2, "/v2/UnifiedPay/Gateway", "PreOrder_ECNY", merchantKey, false, false},
		{"orderquery", model.V2, "/v2/UnifiedPay/Gateway", "orderquery", merchantKey, false, false},
		{"cancel", model.V2, "/v2/UnifiedPay/Gateway", "cancel", merchantKey, false, true},
		{"refund", model.V2, "/v2/UnifiedPay/Gateway", "refund", merchantKey, false, true},
		{"refundquery", model.V2, "/v2/UnifiedPay/Gateway", "refundquery", merchantKey, false, false},
		{"PreOrder_WECHAT", model.V1, "/Open/WECHAT_PreOrder", "", agentKey, true, false},
		{"PreOrder_ALIPAY", model.V1, "/Open/ALIPAY_PreOrder", "", agentKey, true, false},
		{"PreOrder_ECNY", model.V1, "/UnifiedPay/Gateway", "PreOrder_ECNY", agentKey, true, false},
		{"orderquery", model.V1, "/UnifiedPay/Gateway", "orderquery", agentKey, true, false},
		{"cancel", model.V1, "/UnifiedPay/Gateway", "cancel", agentKey, true, true},
		{"refund", model.V1, "/UnifiedPay/Gateway", "refund", agentKey, true, true},
		{"refundquery", model.V1, "/UnifiedPay/Gateway", "refundquery", agentKey, true, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.v)+"/"+tt.call, func(t *testing.T) {
			t.Parallel()
			gw := newFake(t, okReply(t))
			c := newClient(t, tt.v, gw.srv.URL)
			if err := calls[tt.call].do(context.Background(), c); err != nil {
				t.Fatalf("%s: %v", tt.call, err)
			}
			got := gw.requests()
			if len(got) != 1 {
				t.Fatalf("requests: got %d, want 1", len(got))
			}
			r := got[0]
			if r.Path != tt.path {
				t.Errorf("path: got %q, want %q", r.Path, tt.path)
			}
			if want := "application/x-www-form-urlencoded; charset=UTF-8"; r.ContentType != want {
				t.Errorf("Content-Type: got %q, want %q", r.ContentType, want)
			}
			if _, has := r.Form["method"]; has != (tt.method != "") || r.Form.Get("method") != tt.method {
				t.Errorf("method: got %q (present %v), want %q", r.Form.Get("method"), has, tt.method)
			}
			if _, has := r.Form["agent_id"]; has != tt.wantAgent {
				t.Errorf("agent_id present: got %v, want %v", has, tt.wantAgent)
			}
			if tt.wantAgent && r.Form.Get("agent_id") != agentID {
				t.Errorf("agent_id: got %q, want %q", r.Form.Get("agent_id"), agentID)
			}
			for name, want := range map[string]string{"pid": "testpos", "version": "2.0", "nonce_str": "fixednonce", "mch_id": mchID} {
				if got := r.Form.Get(name); got != want {
					t.Errorf("%s: got %q, want %q", name, got, want)
				}
			}
			if tt.wantOpUser && r.Form.Get("op_user_id") != mchID {
				t.Errorf("op_user_id: got %q, want the mch_id %q", r.Form.Get("op_user_id"), mchID)
			}
			if err := sign.Verify(r.Form, sign.MD5, tt.key); err != nil {
				t.Errorf("request sign with the %s key: %v", tt.v, err)
			}
			other := merchantKey
			if tt.key == merchantKey {
				other = agentKey
			}
			if err := sign.Verify(r.Form, sign.MD5, other); err == nil {
				t.Errorf("request sign verifies with the other version's key too")
			}
		})
	}
}

func TestOpUserIDKeptAndRequestUntouched(t *testing.T) {
	t.Parallel()
	gw := newFake(t, okReply(t))
	c := newClient(t, model.V2, gw.srv.URL)
	req := &model.CancelRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: "ORDER00001"}
	if _, err := c.Cancel(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if req.OpUserID != "" {
		t.Errorf("Cancel changed the caller's request: OpUserID = %q", req.OpUserID)
	}
	rreq := &model.RefundRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: "ORDER00001",
		OutRefundNo: "R0001", TotalFee: 100, RefundFee: 50, OpUserID: "cashier7"}
	if _, err := c.Refund(context.Background(), rreq); err != nil {
		t.Fatal(err)
	}
	reqs := gw.requests()
	if got := reqs[len(reqs)-1].Form.Get("op_user_id"); got != "cashier7" {
		t.Errorf("refund op_user_id: got %q, want the caller's %q", got, "cashier7")
	}
}

func TestSuccessfulReplies(t *testing.T) {
	t.Parallel()
	gw := newFake(t, okReply(t))
	c := newClient(t, model.V2, gw.srv.URL)
	ctx := context.Background()

	pre, err := c.PreOrder(ctx, preOrderReq(model.PayWeChat))
	if err != nil {
		t.Fatalf("PreOrder: %v", err)
	}
	if got, want := pre.CodeURL, "weixin://wxpay/bizpayurl?pr=abc"; got != want {
		t.Errorf("CodeURL: got %q, want %q", got, want)
	}
	q, err := c.OrderQuery(ctx, queryReq())
	if err != nil {
		t.Fatalf("OrderQuery: %v", err)
	}
	if q.TotalFee != 100 || q.TransactionID != "T100" || q.Outcome() != model.OutcomePaid {
		t.Errorf("OrderQuery: got total_fee %d transaction_id %q outcome %v, want 100 T100 paid", q.TotalFee, q.TransactionID, q.Outcome())
	}
	rq, err := c.RefundQuery(ctx, &model.RefundQueryRequest{PayType: model.PayWeChat, MchID: mchID, OutRefundNo: "R0001"})
	if err != nil {
		t.Fatalf("RefundQuery: %v", err)
	}
	if rq.RefundCount != 1 || !strings.Contains(rq.RefundList, "R0001") {
		t.Errorf("RefundQuery: got count %d list %q", rq.RefundCount, rq.RefundList)
	}
}

func TestResponseVerification(t *testing.T) {
	t.Parallel()
	success := map[string]string{"state": "SUCCESS", "code": "10000", "trade_state": "SUCCESS",
		"mch_id": mchID, "out_trade_no": "ORDER00001", "code_url": "weixin://x"}
	// The sign over the string form of a reply that carries total_fee as a
	// JSON number.
	numSign, _ := sign.SignMap(map[string]string{"state": "SUCCESS", "code": "10000", "trade_state": "SUCCESS",
		"mch_id": mchID, "out_trade_no": "ORDER00001", "total_fee": "100", "is_test": "true", "attach": ""}, merchantKey, sign.MD5)

	tests := []struct {
		name    string
		status  int
		body    string
		wantErr error // nil = success
	}{
		{name: "signed success", body: signedJSON(t, merchantKey, success)},
		{name: "signed with a rotated-out key", body: signedJSON(t, oldMchKey, success)},
		{name: "lower-case sign", body: lowerSign(t, signedJSON(t, merchantKey, success))},
		{name: "unsigned success", body: unsignedJSON(t, success), wantErr: client.ErrUnsigned},
		{name: "unsigned NEED_QUERY", body: `{"state":"SUCCESS","code":"10001","trade_state":"NEED_QUERY"}`, wantErr: client.ErrUnsigned},
		{name: "unsigned trade_state FAIL", body: `{"state":"SUCCESS","code":"10006","trade_state":"FAIL"}`, wantErr: client.ErrUnsigned},
		{name: "unsigned SUCCESS without a code", body: `{"state":"SUCCESS"}`, wantErr: client.ErrUnsigned},
		{name: "upper-case names cannot dodge the strict check", body: `{"STATE":"SUCCESS","TRADE_STATE":"SUCCESS","code":"10000"}`, wantErr: client.ErrUnsigned},
		{name: "wrong key", body: signedJSON(t, agentKey, success), wantErr: client.ErrResponseSign},
		{name: "tampered after signing", body: strings.Replace(signedJSON(t, merchantKey, success), "weixin://x", "weixin://evil", 1), wantErr: client.ErrResponseSign},
		{name: "signed error reply with a bad sign", body: `{"state":"FAIL","code":"20004","msg":"x","sign":"00000000000000000000000000000000"}`, wantErr: client.ErrResponseSign},
		{name: "numbers, booleans and null as text", body: `{"state":"SUCCESS","code":10000,"trade_state":"SUCCESS","mch_id":"` + mchID +
			`","out_trade_no":"ORDER00001","total_fee":100,"is_test":true,"attach":null,"sign":"` + numSign + `"}`},
		{name: "name given twice", body: `{"state":"FAIL","state":"SUCCESS"}`, wantErr: client.ErrUnknownOutcome},
		{name: "name given twice in two cases", body: `{"state":"FAIL","State":"SUCCESS"}`, wantErr: client.ErrUnknownOutcome},
		{name: "not JSON", body: `<html>502 Bad Gateway</html>`, wantErr: client.ErrUnknownOutcome},
		{name: "JSON array", body: `[]`, wantErr: client.ErrUnknownOutcome},
		{name: "trailing garbage", body: `{"state":"FAIL"}{}`, wantErr: client.ErrUnknownOutcome},
		{name: "other merchant", body: signedJSON(t, merchantKey, map[string]string{"state": "SUCCESS", "code": "10000",
			"trade_state": "SUCCESS", "mch_id": "00000002", "out_trade_no": "ORDER00001"}), wantErr: client.ErrMismatch},
		{name: "other order", body: signedJSON(t, merchantKey, map[string]string{"state": "SUCCESS", "code": "10000",
			"trade_state": "SUCCESS", "mch_id": mchID, "out_trade_no": "ORDER00002"}), wantErr: client.ErrMismatch},
		{name: "HTTP 502", status: http.StatusBadGateway, body: "", wantErr: client.ErrUnknownOutcome},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			gw := newFake(t, func(received) (int, string) { return status, tt.body })
			c := newClient(t, model.V2, gw.srv.URL, func(cfg *client.Config) {
				cfg.Keys.MerchantKeys = func(context.Context, string) ([]string, error) {
					return []string{merchantKey, oldMchKey}, nil
				}
			})
			resp, err := c.PreOrder(context.Background(), preOrderReq(model.PayWeChat))
			noSecrets(t, err)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("PreOrder: got %v, want success", err)
				}
				if resp.State != model.StateSuccess {
					t.Errorf("State: got %q, want SUCCESS", resp.State)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("PreOrder: got %v, want %v", err, tt.wantErr)
			}
			if resp != nil {
				t.Errorf("PreOrder: got response %+v with error, want nil", resp)
			}
			if !client.Uncertain(err) {
				t.Errorf("Uncertain(%v): got false, want true (the order may exist)", err)
			}
		})
	}
}

// classes are the sentinels a GatewayError maps to; each must match one.
var classes = []error{client.ErrNeedQuery, client.ErrUnknownOutcome, client.ErrNotFound,
	client.ErrBadRequest, client.ErrMerchantConfig, client.ErrGateway}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		body       string
		want       error
		wantCode   model.Code
		wantMsg    string
		wantStatus int
	}{
		{name: "20007 not found", body: `{"state":"FAIL","code":"20007","msg":"订单不存在"}`, want: client.ErrNotFound, wantCode: "20007", wantMsg: "订单不存在"},
		{name: "20007 with state SUCCESS", body: `{"state":"SUCCESS","code":"20007","msg":"订单不存在"}`, want: client.ErrNotFound, wantCode: "20007", wantMsg: "订单不存在"},
		{name: "20004 bad parameter", body: `{"state":"FAIL","code":"20004","msg":"参数错误"}`, want: client.ErrBadRequest, wantCode: "20004", wantMsg: "参数错误"},
		{name: "20002 bad sign", body: `{"state":"FAIL","code":"20002","msg":"签名错误"}`, want: client.ErrBadRequest, wantCode: "20002", wantMsg: "签名错误"},
		{name: "20005 merchant", body: `{"state":"FAIL","code":"20005","msg":"商户错误"}`, want: client.ErrMerchantConfig, wantCode: "20005", wantMsg: "商户错误"},
		{name: "20012 agent", body: `{"state":"FAIL","code":"20012","msg":"代理商错误"}`, want: client.ErrMerchantConfig, wantCode: "20012", wantMsg: "代理商错误"},
		{name: "20013 trade config", body: `{"state":"FAIL","code":"20013","msg":"x"}`, want: client.ErrMerchantConfig, wantCode: "20013", wantMsg: "x"},
		{name: "30001 network", body: `{"state":"FAIL","code":"30001","msg":"网络异常"}`, want: client.ErrUnknownOutcome, wantCode: "30001", wantMsg: "网络异常"},
		{name: "20006 system", body: `{"state":"FAIL","code":"20006","msg":"系统错误"}`, want: client.ErrUnknownOutcome, wantCode: "20006", wantMsg: "系统错误"},
		{name: "20009 query error", body: `{"state":"FAIL","code":"20009","msg":"交易查询错误"}`, want: client.ErrGateway, wantCode: "20009", wantMsg: "交易查询错误"},
		{name: "state VER", body: `{"state":"VER","msg":"版本过低"}`, want: client.ErrGateway, wantMsg: "版本过低"},
		{name: "HTTP 500", status: 500, want: client.ErrUnknownOutcome, wantStatus: 500},
		{name: "HTTP 503", status: 503, body: `{"state":"SUCCESS"}`, want: client.ErrUnknownOutcome, wantStatus: 503},
		{name: "HTTP 404", status: 404, want: client.ErrGateway, wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			gw := newFake(t, func(received) (int, string) { return status, tt.body })
			c := newClient(t, model.V2, gw.srv.URL)
			resp, err := c.OrderQuery(context.Background(), queryReq())
			if resp != nil {
				t.Errorf("OrderQuery: got response %+v with error, want nil", resp)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("OrderQuery: got %v, want %v", err, tt.want)
			}
			for _, class := range classes {
				if class != tt.want && errors.Is(err, class) {
					t.Errorf("error %v also matches %v", err, class)
				}
			}
			var ge *client.GatewayError
			if !errors.As(err, &ge) {
				t.Fatalf("errors.As(%v, *GatewayError) = false", err)
			}
			want := &client.GatewayError{Op: "orderquery", HTTPStatus: tt.wantStatus, Code: tt.wantCode, Msg: tt.wantMsg}
			if tt.wantStatus == 0 {
				want.State = model.State(strings.Split(strings.Split(tt.body, `"state":"`)[1], `"`)[0])
			}
			if diff := cmp.Diff(want, ge); diff != "" {
				t.Errorf("GatewayError (-want +got):\n%s", diff)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Error() = %q, want it to carry the gateway's msg %q", err, tt.wantMsg)
			}
		})
	}
}

func TestOrderQueryStatesAreNotErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code       string
		tradeState string
		want       model.Outcome
	}{
		{"10003", "", model.OutcomePending},
		{"10001", "NEED_QUERY", model.OutcomePending},
		{"10004", "FAIL", model.OutcomeClosed},
		{"10005", "", model.OutcomeClosed},
		{"10002", "REFUND", model.OutcomeRefunded},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			gw := newFake(t, func(received) (int, string) {
				reply := map[string]string{"state": "SUCCESS", "code": tt.code, "msg": "m"}
				if tt.tradeState != "" {
					reply["trade_state"] = tt.tradeState
				}
				return 200, signedJSON(t, merchantKey, reply)
			})
			c := newClient(t, model.V2, gw.srv.URL)
			resp, err := c.OrderQuery(context.Background(), queryReq())
			if err != nil {
				t.Fatalf("OrderQuery: got %v, want a response", err)
			}
			if got := resp.Outcome(); got != tt.want {
				t.Errorf("Outcome: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPreOrderNeedQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body map[string]string
	}{
		{"trade_state NEED_QUERY", map[string]string{"state": "SUCCESS", "code": "10000", "trade_state": "NEED_QUERY", "msg": "需要查询"}},
		{"code 10001", map[string]string{"state": "SUCCESS", "code": "10001", "msg": "支付中"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := newFake(t, func(received) (int, string) { return 200, signedJSON(t, agentKey, tt.body) })
			c := newClient(t, model.V1, gw.srv.URL)
			resp, err := c.PreOrder(context.Background(), preOrderReq(model.PayAlipay))
			if !errors.Is(err, client.ErrNeedQuery) {
				t.Fatalf("PreOrder: got %v, want ErrNeedQuery", err)
			}
			if resp == nil || resp.Msg != tt.body["msg"] {
				t.Errorf("PreOrder: got response %+v, want the decoded reply", resp)
			}
			if !client.Uncertain(err) {
				t.Errorf("Uncertain: got false, want true")
			}
		})
	}
}

func TestPreOrderDefiniteFailureIsCertain(t *testing.T) {
	t.Parallel()
	gw := newFake(t, failReply(t, "20004", "参数错误"))
	c := newClient(t, model.V2, gw.srv.URL)
	_, err := c.PreOrder(context.Background(), preOrderReq(model.PayWeChat))
	if !errors.Is(err, client.ErrBadRequest) {
		t.Fatalf("PreOrder: got %v, want ErrBadRequest", err)
	}
	if client.Uncertain(err) {
		t.Errorf("Uncertain(%v): got true, want false", err)
	}
}

func TestInvalidRequestIsNotSent(t *testing.T) {
	t.Parallel()
	gw := newFake(t, okReply(t))
	c := newClient(t, model.V2, gw.srv.URL)
	req := preOrderReq(model.PayWeChat)
	req.TotalFee = 0
	_, err := c.PreOrder(context.Background(), req)
	if !errors.Is(err, client.ErrBadRequest) {
		t.Errorf("PreOrder with total_fee 0: got %v, want ErrBadRequest", err)
	}
	var ve *model.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("PreOrder with total_fee 0: got %v, want a *model.ValidationError inside", err)
	}
	if client.Uncertain(err) {
		t.Errorf("Uncertain(%v): got true for a request never sent, want false", err)
	}
	if _, err := c.OrderQuery(context.Background(), nil); !errors.Is(err, client.ErrBadRequest) {
		t.Errorf("OrderQuery(nil): got %v, want ErrBadRequest", err)
	}
	if n := len(gw.requests()); n != 0 {
		t.Errorf("requests sent: got %d, want 0", n)
	}
}

func TestUnknownMerchantIsNotSent(t *testing.T) {
	t.Parallel()
	gw := newFake(t, okReply(t))
	c := newClient(t, model.V2, gw.srv.URL)
	req := queryReq()
	req.MchID = "99999999"
	if _, err := c.OrderQuery(context.Background(), req); !errors.Is(err, client.ErrUnknownMerchant) {
		t.Errorf("OrderQuery: got %v, want ErrUnknownMerchant", err)
	}
	if n := len(gw.requests()); n != 0 {
		t.Errorf("requests sent: got %d, want 0", n)
	}
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	t.Run("before sending", func(t *testing.T) {
		t.Parallel()
		gw := newFake(t, okReply(t))
		c := newClient(t, model.V2, gw.srv.URL)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.PreOrder(ctx, preOrderReq(model.PayWeChat))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("PreOrder: got %v, want context.Canceled", err)
		}
		if client.Uncertain(err) {
			t.Errorf("Uncertain: got true for a request never sent, want false")
		}
		if n := len(gw.requests()); n != 0 {
			t.Errorf("requests sent: got %d, want 0", n)
		}
	})
	t.Run("in flight", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{})
		release := make(chan struct{})
		gw := newFake(t, func(received) (int, string) {
			close(arrived)
			<-release
			return 200, "{}"
		})
		// After newFake's cleanup registration, so it runs before the
		// server's Close, which waits for this handler.
		t.Cleanup(func() { close(release) })
		c := newClient(t, model.V2, gw.srv.URL)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		_, err := c.PreOrder(ctx, preOrderReq(model.PayWeChat))
		if !errors.Is(err, context.Canceled) || !errors.Is(err, client.ErrUnknownOutcome) {
			t.Errorf("PreOrder: got %v, want context.Canceled and ErrUnknownOutcome", err)
		}
	})
}

func TestHTTPClientTimeoutIsUnknownOutcome(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	gw := newFake(t, func(received) (int, string) { <-release; return 200, "{}" })
	t.Cleanup(func() { close(release) })
	c := newClient(t, model.V2, gw.srv.URL, func(cfg *client.Config) {
		cfg.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
	})
	_, err := c.PreOrder(context.Background(), preOrderReq(model.PayWeChat))
	if !errors.Is(err, client.ErrUnknownOutcome) {
		t.Errorf("PreOrder: got %v, want ErrUnknownOutcome", err)
	}
}

func TestWaitForPayment(t *testing.T) {
	t.Parallel()
	unpaid := func(t testing.TB) (int, string) {
		return 200, signedJSON(t, merchantKey, map[string]string{"state": "SUCCESS", "code": "10003", "msg": "未支付"})
	}
	paid := func(t testing.TB, r received) (int, string) { return okReply(t)(r) }

	tests := []struct {
		name        string
		timeout     time.Duration
		script      func(t testing.TB, n int, r received) (int, string) // n is 1-based
		wantErr     error
		wantQueries int
		wantOutcome model.Outcome // for a nil error
	}{
		{name: "paid on the third query", script: func(t testing.TB, n int, r received) (int, string) {
			if n < 3 {
				return unpaid(t)
			}
			return paid(t, r)
		}, wantQueries: 3, wantOutcome: model.OutcomePaid},
		{name: "closed is final", script: func(t testing.TB, n int, r received) (int, string) {
			return 200, signedJSON(t, merchantKey, map[string]string{"state": "SUCCESS", "code": "10004", "trade_state": "FAIL"})
		}, wantQueries: 1, wantOutcome: model.OutcomeClosed},
		{name: "never paid, default timeout", script: func(t testing.TB, n int, r received) (int, string) {
			return unpaid(t)
		}, wantErr: client.ErrStillPending, wantQueries: 24},
		{name: "never paid, 60 s", timeout: 60 * time.Second, script: func(t testing.TB, n int, r received) (int, string) {
			return unpaid(t)
		}, wantErr: client.ErrStillPending, wantQueries: 12},
		{name: "transient errors and not-found keep polling", script: func(t testing.TB, n int, r received) (int, string) {
			switch n {
			case 1:
				return 200, unsignedJSON(t, map[string]string{"state": "FAIL", "code": "20007"})
			case 2:
				return 502, ""
			case 3:
				return 200, unsignedJSON(t, map[string]string{"state": "FAIL", "code": "30001"})
			}
			return paid(t, r)
		}, wantQueries: 4, wantOutcome: model.OutcomePaid},
		{name: "a configuration error stops at once", script: func(t testing.TB, n int, r received) (int, string) {
			return 200, unsignedJSON(t, map[string]string{"state": "FAIL", "code": "20005"})
		}, wantErr: client.ErrMerchantConfig, wantQueries: 1},
		{name: "a bad response sign stops at once", script: func(t testing.TB, n int, r received) (int, string) {
			return 200, signedJSON(t, "wrong", map[string]string{"state": "SUCCESS", "code": "10000", "trade_state": "SUCCESS"})
		}, wantErr: client.ErrResponseSign, wantQueries: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := 0
			gw := newFake(t, func(r received) (int, string) { n++; return tt.script(t, n, r) })
			clock := newFakeClock()
			start := clock.Now()
			c := newClient(t, model.V2, gw.srv.URL, func(cfg *client.Config) {
				cfg.Clock, cfg.Sleep = clock.Now, clock.Sleep
			})
			resp, err := c.WaitForPayment(context.Background(), queryReq(), tt.timeout)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("WaitForPayment: got %v, want %v", err, tt.wantErr)
			}
			if got := len(gw.requests()); got != tt.wantQueries {
				t.Errorf("queries: got %d, want %d", got, tt.wantQueries)
			}
			sleeps, total := clock.slept()
			if sleeps != tt.wantQueries || total != time.Duration(tt.wantQueries)*client.PollInterval {
				t.Errorf("sleeps: got %d totalling %s, want %d of %s", sleeps, total, tt.wantQueries, client.PollInterval)
			}
			if tt.wantErr == nil {
				if resp == nil || resp.Outcome() != tt.wantOutcome {
					t.Errorf("WaitForPayment: got %+v, want outcome %v", resp, tt.wantOutcome)
				}
			}
			if errors.Is(tt.wantErr, client.ErrStillPending) {
				timeout := tt.timeout
				if timeout == 0 {
					timeout = client.DefaultWaitTimeout
				}
				if got := clock.Now().Sub(start); got != timeout {
					t.Errorf("waited: got %s, want %s", got, timeout)
				}
				if resp == nil || resp.Outcome() != model.OutcomePending {
					t.Errorf("WaitForPayment: got last response %+v, want the pending reply", resp)
				}
			}
		})
	}
}

func TestWaitForPaymentRejectsTimeouts(t *testing.T) {
	t.Parallel()
	c := newClient(t, model.V2, "http://127.0.0.1:1")
	for _, d := range []time.Duration{time.Second, 59 * time.Second, 181 * time.Second, -time.Minute} {
		if _, err := c.WaitForPayment(context.Background(), queryReq(), d); err == nil {
			t.Errorf("WaitForPayment(%s): got nil error, want one", d)
		}
	}
}

func TestWaitForPaymentStopsOnCancel(t *testing.T) {
	t.Parallel()
	gw := newFake(t, func(received) (int, string) {
		return 200, signedJSON(t, merchantKey, map[string]string{"state": "SUCCESS", "code": "10003"})
	})
	ctx, cancel := context.WithCancel(context.Background())
	sleeps := 0
	c := newClient(t, model.V2, gw.srv.URL, func(cfg *client.Config) {
		clock := newFakeClock()
		cfg.Clock = clock.Now
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			if sleeps++; sleeps == 3 {
				cancel()
			}
			return clock.Sleep(ctx, d)
		}
	})
	_, err := c.WaitForPayment(ctx, queryReq(), 0)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("WaitForPayment: got %v, want context.Canceled", err)
	}
	if got := len(gw.requests()); got != 2 {
		t.Errorf("queries: got %d, want 2", got)
	}
}

func TestGatewayErrorMessage(t *testing.T) {
	t.Parallel()
	e := &client.GatewayError{Op: "refund", State: model.StateFail, Code: model.CodeRefundError, Msg: strings.Repeat("长", 300)}
	msg := e.Error()
	for _, want := range []string{"refund", "FAIL", "20008", "refund error"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Error() = %q, want it to contain %q", msg, want)
		}
	}
	if len(msg) > 800 {
		t.Errorf("Error() is %d bytes, want the msg truncated", len(msg))
	}
	if !errors.Is(e, client.ErrGateway) {
		t.Errorf("errors.Is(%v, ErrGateway) = false", e)
	}
}
