package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// These tests drive the client over real HTTP against the gatewaytest
// simulator.

var orderSeq atomic.Int64

// newOutTradeNo is a fresh out_trade_no (the simulator refuses a reused one).
func newOutTradeNo() string {
	return fmt.Sprintf("GT%d%06d", time.Now().Unix()%100000, orderSeq.Add(1))
}

func startSim(tb testing.TB, opts ...func(*gatewaytest.Config)) *gatewaytest.Server {
	tb.Helper()
	cfg := gatewaytest.Config{
		Merchants: map[string]string{mchID: merchantKey, "00000002": "otherkey0123456789abcdef01234567"},
		AgentID:   agentID,
		AgentKey:  agentKey,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return gatewaytest.RunT(tb, cfg)
}

// simClient is a client of version v against sim whose WaitForPayment runs
// on a fake clock.
func simClient(tb testing.TB, v model.Version, sim *gatewaytest.Server, opts ...func(*client.Config)) *client.Client {
	tb.Helper()
	clock := newFakeClock()
	return newClient(tb, v, sim.URL, append([]func(*client.Config){func(cfg *client.Config) {
		cfg.Clock, cfg.Sleep = clock.Now, clock.Sleep
		cfg.Nonce = nil
	}}, opts...)...)
}

func simPreOrder(ch model.PayType, tradeType string) *model.PreOrderRequest {
	r := preOrderReq(ch)
	r.OutTradeNo = newOutTradeNo()
	r.TotalFee = 1234
	r.TradeType = tradeType
	r.NotifyURL = "http://127.0.0.1:1/notify"
	if tradeType == model.TradeTypeJSPay {
		r.ProductID = ""
		r.BuyerID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
		if ch == model.PayWeChat {
			r.SubAppID = "wx8888888888888888"
		}
	}
	return r
}

func TestGatewayPreOrder(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	tests := []struct {
		ch         model.PayType
		tradeType  string
		wantPrefix string // of code_url; "" = JSPAY, expect pay_info JSON
	}{
		{model.PayWeChat, model.TradeTypeNative, "weixin://wxpay/bizpayurl?pr="},
		{model.PayAlipay, model.TradeTypeNative, "https://qr.alipay.com/"},
		{model.PayECNY, model.TradeTypeNative, "https://qr.pbcdci.cn/"},
		{model.PayWeChat, model.TradeTypeJSPay, ""},
		{model.PayAlipay, model.TradeTypeJSPay, ""},
	}
	for _, v := range []model.Version{model.V1, model.V2} {
		c := simClient(t, v, sim)
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%s/%s", v, tt.ch, tt.tradeType), func(t *testing.T) {
				t.Parallel()
				req := simPreOrder(tt.ch, tt.tradeType)
				resp, err := c.PreOrder(context.Background(), req)
				if err != nil {
					t.Fatalf("PreOrder: %v", err)
				}
				if resp.State != model.StateSuccess || resp.TradeState != model.TradeSuccess || resp.OutTradeNo != req.OutTradeNo {
					t.Errorf("PreOrder: got state %q trade_state %q out_trade_no %q, want SUCCESS SUCCESS %q",
						resp.State, resp.TradeState, resp.OutTradeNo, req.OutTradeNo)
				}
				if tt.wantPrefix != "" && !strings.HasPrefix(resp.CodeURL, tt.wantPrefix) {
					t.Errorf("CodeURL: got %q, want prefix %q", resp.CodeURL, tt.wantPrefix)
				}
				if tt.wantPrefix == "" && !json.Valid([]byte(resp.PayInfo)) {
					t.Errorf("PayInfo: got %q, want JSON", resp.PayInfo)
				}
				o, ok := sim.Order(req.OutTradeNo)
				if !ok {
					t.Fatalf("simulator has no order %q", req.OutTradeNo)
				}
				if o.Version != v || o.Channel != tt.ch || o.Amount != req.TotalFee || o.State != gatewaytest.Unpaid {
					t.Errorf("simulator order: got version %s channel %s amount %d state %s, want %s %s %d UNPAID",
						o.Version, o.Channel, o.Amount, o.State, v, tt.ch, req.TotalFee)
				}
			})
		}
	}
}

func TestGatewayOrderLifecycle(t *testing.T) {
	t.Parallel()
	for _, v := range []model.Version{model.V1, model.V2} {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			sim := startSim(t)
			c := simClient(t, v, sim)
			ctx := context.Background()
			req := simPreOrder(model.PayAlipay, model.TradeTypeNative)
			if _, err := c.PreOrder(ctx, req); err != nil {
				t.Fatalf("PreOrder: %v", err)
			}
			query := &model.OrderQueryRequest{PayType: req.Channel, MchID: mchID, OutTradeNo: req.OutTradeNo}
			wantOutcome := func(step string, want model.Outcome) *model.OrderQueryResponse {
				t.Helper()
				resp, err := c.OrderQuery(ctx, query)
				if err != nil {
					t.Fatalf("%s: OrderQuery: %v", step, err)
				}
				if got := resp.Outcome(); got != want {
					t.Fatalf("%s: Outcome: got %v (code %s trade_state %s), want %v", step, got, resp.Code, resp.TradeState, want)
				}
				return resp
			}

			wantOutcome("unpaid", model.OutcomePending)
			if err := sim.Pay(req.OutTradeNo); err != nil {
				t.Fatal(err)
			}
			paid := wantOutcome("paid", model.OutcomePaid)
			o, _ := sim.Order(req.OutTradeNo)
			if paid.TotalFee != req.TotalFee || paid.TransactionID != o.TransactionID || paid.TransactionID == "" {
				t.Errorf("paid: got total_fee %d transaction_id %q, want %d %q", paid.TotalFee, paid.TransactionID, req.TotalFee, o.TransactionID)
			}
			if _, err := model.ParseTime(paid.TimeEnd); err != nil {
				t.Errorf("paid: time_end: %v", err)
			}

			byTxn := &model.OrderQueryRequest{PayType: req.Channel, MchID: mchID, TransactionID: paid.TransactionID}
			if resp, err := c.OrderQuery(ctx, byTxn); err != nil || resp.OutTradeNo != req.OutTradeNo {
				t.Errorf("OrderQuery by transaction_id: got %+v, %v; want out_trade_no %q", resp, err, req.OutTradeNo)
			}

			refund := &model.RefundRequest{PayType: req.Channel, MchID: mchID, OutTradeNo: req.OutTradeNo,
				OutRefundNo: "TK-" + req.OutTradeNo, TotalFee: req.TotalFee, RefundFee: 234}
			rr, err := c.Refund(ctx, refund)
			if err != nil {
				t.Fatalf("Refund: %v", err)
			}
			if rr.RefundFee != 234 || rr.OutRefundNo != refund.OutRefundNo || rr.RefundID == "" {
				t.Errorf("Refund: got refund_fee %d out_refund_no %q refund_id %q", rr.RefundFee, rr.OutRefundNo, rr.RefundID)
			}
			over := *refund
			over.OutRefundNo, over.RefundFee = "TK2-"+req.OutTradeNo, req.TotalFee
			if _, err := c.Refund(ctx, &over); !errors.Is(err, client.ErrGateway) {
				t.Errorf("Refund beyond the paid amount: got %v, want ErrGateway (20008)", err)
			}

			rq, err := c.RefundQuery(ctx, &model.RefundQueryRequest{PayType: req.Channel, MchID: mchID, OutRefundNo: refund.OutRefundNo})
			if err != nil {
				t.Fatalf("RefundQuery: %v", err)
			}
			var items []model.RefundItem
			if err := json.Unmarshal([]byte(rq.RefundList), &items); err != nil {
				t.Fatalf("refund_list %q: %v", rq.RefundList, err)
			}
			if len(items) != 1 || items[0].OutRefundNo != refund.OutRefundNo || items[0].RefundFee != 234 || items[0].RefundStatus != model.RefundSuccess {
				t.Errorf("refund_list: got %+v, want one SUCCESS refund of 234", items)
			}
			wantOutcome("refunded", model.OutcomeRefunded)
		})
	}
}

func TestGatewayCancel(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	sim := startSim(t, func(cfg *gatewaytest.Config) {
		cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	for _, v := range []model.Version{model.V1, model.V2} {
		c := simClient(t, v, sim)
		ctx := context.Background()

		unpaid := simPreOrder(model.PayWeChat, model.TradeTypeNative)
		paid := simPreOrder(model.PayWeChat, model.TradeTypeNative)
		late := simPreOrder(model.PayWeChat, model.TradeTypeNative)
		for _, r := range []*model.PreOrderRequest{unpaid, paid, late} {
			if _, err := c.PreOrder(ctx, r); err != nil {
				t.Fatalf("%s: PreOrder: %v", v, err)
			}
		}
		if err := sim.Pay(paid.OutTradeNo); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			req  *model.PreOrderRequest
			want model.Code
		}{{unpaid, model.CodeClosed}, {paid, model.CodeCancelled}} {
			cr, err := c.Cancel(ctx, &model.CancelRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: tt.req.OutTradeNo})
			if err != nil {
				t.Fatalf("%s: Cancel: %v", v, err)
			}
			if cr.OutTradeNo != tt.req.OutTradeNo {
				t.Errorf("%s: Cancel: got out_trade_no %q, want %q", v, cr.OutTradeNo, tt.req.OutTradeNo)
			}
			q, err := c.OrderQuery(ctx, &model.OrderQueryRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: tt.req.OutTradeNo})
			if err != nil {
				t.Fatalf("%s: OrderQuery: %v", v, err)
			}
			if q.Code != tt.want || q.Outcome() != model.OutcomeClosed {
				t.Errorf("%s: after Cancel: got code %s outcome %v, want %s closed", v, q.Code, q.Outcome(), tt.want)
			}
		}

		advance(gatewaytest.CancelWindow + time.Second)
		_, err := c.Cancel(ctx, &model.CancelRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: late.OutTradeNo})
		var ge *client.GatewayError
		if !errors.As(err, &ge) || ge.Code != model.CodeCancelError || !errors.Is(err, client.ErrGateway) {
			t.Errorf("%s: Cancel after the window: got %v, want a 20011 GatewayError", v, err)
		}
	}
}

func TestGatewayErrors(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		v        model.Version
		opt      func(*client.Config)
		do       func(c *client.Client) error
		want     error
		wantCode model.Code
	}{
		{name: "order not found", v: model.V2, do: func(c *client.Client) error {
			_, err := c.OrderQuery(ctx, &model.OrderQueryRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: "NOSUCHORDER1"})
			return err
		}, want: client.ErrNotFound, wantCode: model.CodeOrderNotFound},
		{name: "order not found on v1", v: model.V1, do: func(c *client.Client) error {
			_, err := c.OrderQuery(ctx, &model.OrderQueryRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: "NOSUCHORDER1"})
			return err
		}, want: client.ErrNotFound, wantCode: model.CodeOrderNotFound},
		{name: "merchant unknown to the gateway", v: model.V2, opt: func(cfg *client.Config) {
			cfg.Keys.MerchantKeys = client.StaticMerchantKeys(map[string]string{"77777777": merchantKey})
		}, do: func(c *client.Client) error {
			r := simPreOrder(model.PayWeChat, model.TradeTypeNative)
			r.MchID = "77777777"
			_, err := c.PreOrder(ctx, r)
			return err
		}, want: client.ErrMerchantConfig, wantCode: model.CodeMerchantError},
		{name: "wrong merchant key", v: model.V2, opt: func(cfg *client.Config) {
			cfg.Keys.MerchantKeys = client.StaticMerchantKeys(map[string]string{mchID: oldMchKey})
		}, do: func(c *client.Client) error {
			_, err := c.PreOrder(ctx, simPreOrder(model.PayWeChat, model.TradeTypeNative))
			return err
		}, want: client.ErrBadRequest, wantCode: model.CodeSignError},
		{name: "wrong agent", v: model.V1, opt: func(cfg *client.Config) { cfg.Keys.AgentID = "13000000000000099" },
			do: func(c *client.Client) error {
				_, err := c.PreOrder(ctx, simPreOrder(model.PayAlipay, model.TradeTypeNative))
				return err
			}, want: client.ErrMerchantConfig, wantCode: model.CodeAgentError},
		{name: "algorithm mismatch", v: model.V2, opt: func(cfg *client.Config) { cfg.Algorithm = sign.SHA256 },
			do: func(c *client.Client) error {
				_, err := c.PreOrder(ctx, simPreOrder(model.PayECNY, model.TradeTypeNative))
				return err
			}, want: client.ErrBadRequest, wantCode: model.CodeSignError},
		{name: "duplicate out_trade_no", v: model.V2, do: func(c *client.Client) error {
			r := simPreOrder(model.PayWeChat, model.TradeTypeNative)
			if _, err := c.PreOrder(ctx, r); err != nil {
				return fmt.Errorf("first pre-order: %v", err)
			}
			_, err := c.PreOrder(ctx, r)
			return err
		}, want: client.ErrBadRequest, wantCode: model.CodeBadParam},
		{name: "refund of an unpaid order", v: model.V2, do: func(c *client.Client) error {
			r := simPreOrder(model.PayWeChat, model.TradeTypeNative)
			if _, err := c.PreOrder(ctx, r); err != nil {
				return fmt.Errorf("pre-order: %v", err)
			}
			_, err := c.Refund(ctx, &model.RefundRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: r.OutTradeNo,
				OutRefundNo: "TK-" + r.OutTradeNo, TotalFee: r.TotalFee, RefundFee: 1})
			return err
		}, want: client.ErrGateway, wantCode: model.CodeRefundError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []func(*client.Config)
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			err := tt.do(simClient(t, tt.v, sim, opts...))
			noSecrets(t, err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			var ge *client.GatewayError
			if !errors.As(err, &ge) || ge.Code != tt.wantCode || ge.Msg == "" {
				t.Errorf("got %#v, want a GatewayError with code %s and the gateway's msg", ge, tt.wantCode)
			}
			if client.Uncertain(err) {
				t.Errorf("Uncertain(%v): got true, want false", err)
			}
		})
	}
}

func TestGatewayAlgorithms(t *testing.T) {
	t.Parallel()
	for _, alg := range []sign.Algorithm{sign.SHA1, sign.SHA256, sign.HMACSHA256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, func(cfg *gatewaytest.Config) { cfg.Algorithm = alg })
			c := simClient(t, model.V2, sim, func(cfg *client.Config) { cfg.Algorithm = alg })
			if _, err := c.PreOrder(context.Background(), simPreOrder(model.PayWeChat, model.TradeTypeNative)); err != nil {
				t.Errorf("PreOrder under %s: %v", alg, err)
			}
		})
	}
}

// TestGatewayPreOrderFaults covers the pre-order replies that leave the
// outcome open; each time the order exists and a query finds it.
func TestGatewayPreOrderFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		faults  gatewaytest.Faults
		opt     func(*client.Config)
		ctx     func() (context.Context, context.CancelFunc)
		want    error
		wantRsp bool
	}{
		{name: "NEED_QUERY", faults: gatewaytest.Faults{PreOrderNeedQuery: true}, want: client.ErrNeedQuery, wantRsp: true},
		{name: "HTTP 502", faults: gatewaytest.Faults{PreOrderStatus: http.StatusBadGateway}, want: client.ErrUnknownOutcome},
		{name: "HTTP 500", faults: gatewaytest.Faults{PreOrderStatus: http.StatusInternalServerError}, want: client.ErrUnknownOutcome},
		{name: "slow reply, HTTP client timeout", faults: gatewaytest.Faults{PreOrderDelay: time.Hour},
			opt:  func(cfg *client.Config) { cfg.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond} },
			want: client.ErrUnknownOutcome},
		{name: "slow reply, context deadline", faults: gatewaytest.Faults{PreOrderDelay: time.Hour},
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 100*time.Millisecond)
			},
			want: context.DeadlineExceeded},
	}
	for _, v := range []model.Version{model.V1, model.V2} {
		for _, tt := range tests {
			t.Run(string(v)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				sim := startSim(t)
				var opts []func(*client.Config)
				if tt.opt != nil {
					opts = append(opts, tt.opt)
				}
				c := simClient(t, v, sim, opts...)
				req := simPreOrder(model.PayWeChat, model.TradeTypeNative)
				sim.SetFaults(req.OutTradeNo, tt.faults)
				ctx := context.Background()
				if tt.ctx != nil {
					var cancel context.CancelFunc
					ctx, cancel = tt.ctx()
					defer cancel()
				}
				resp, err := c.PreOrder(ctx, req)
				if !errors.Is(err, tt.want) {
					t.Fatalf("PreOrder: got %v, want %v", err, tt.want)
				}
				if !client.Uncertain(err) {
					t.Errorf("Uncertain(%v): got false, want true", err)
				}
				if (resp != nil) != tt.wantRsp {
					t.Errorf("PreOrder: got response %+v, want one: %v", resp, tt.wantRsp)
				}
				if tt.wantRsp && (resp.OutTradeNo != req.OutTradeNo || resp.TradeState != model.TradeNeedQuery) {
					t.Errorf("PreOrder: got out_trade_no %q trade_state %q, want %q NEED_QUERY", resp.OutTradeNo, resp.TradeState, req.OutTradeNo)
				}
				q, err := c.OrderQuery(context.Background(), &model.OrderQueryRequest{PayType: req.Channel, MchID: mchID, OutTradeNo: req.OutTradeNo})
				if err != nil {
					t.Fatalf("OrderQuery after the fault: %v", err)
				}
				if q.Outcome() != model.OutcomePending {
					t.Errorf("OrderQuery after the fault: got %v, want pending", q.Outcome())
				}
			})
		}
	}
}

// TestGatewayNeedQueryThenPaid follows the seed's rule end to end: the
// pre-order answers NEED_QUERY, the buyer pays during the polling, and
// WaitForPayment finds the order paid, all on a fake clock.
func TestGatewayNeedQueryThenPaid(t *testing.T) {
	t.Parallel()
	for _, v := range []model.Version{model.V1, model.V2} {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			sim := startSim(t)
			req := simPreOrder(model.PayECNY, model.TradeTypeNative)
			sim.SetFaults(req.OutTradeNo, gatewaytest.Faults{PreOrderNeedQuery: true})
			clock := newFakeClock()
			sleeps := 0
			c := simClient(t, v, sim, func(cfg *client.Config) {
				cfg.Clock = clock.Now
				cfg.Sleep = func(ctx context.Context, d time.Duration) error {
					// The buyer pays between the third and the fourth query.
					if sleeps++; sleeps == 4 {
						if err := sim.Pay(req.OutTradeNo); err != nil {
							t.Errorf("Pay: %v", err)
						}
					}
					return clock.Sleep(ctx, d)
				}
			})
			ctx := context.Background()
			_, err := c.PreOrder(ctx, req)
			if !errors.Is(err, client.ErrNeedQuery) {
				t.Fatalf("PreOrder: got %v, want ErrNeedQuery", err)
			}
			resp, err := c.WaitForPayment(ctx, &model.OrderQueryRequest{PayType: req.Channel, MchID: mchID, OutTradeNo: req.OutTradeNo}, 0)
			if err != nil {
				t.Fatalf("WaitForPayment: %v", err)
			}
			if resp.Outcome() != model.OutcomePaid || resp.TotalFee != req.TotalFee {
				t.Errorf("WaitForPayment: got %v total_fee %d, want paid %d", resp.Outcome(), resp.TotalFee, req.TotalFee)
			}
			if n, total := clock.slept(); n != 4 || total != 4*client.PollInterval {
				t.Errorf("slept %d times for %s, want 4 for %s", n, total, 4*client.PollInterval)
			}
		})
	}
}

func TestGatewayWaitForPaymentTimesOut(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	c := simClient(t, model.V2, sim)
	req := simPreOrder(model.PayWeChat, model.TradeTypeNative)
	if _, err := c.PreOrder(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	resp, err := c.WaitForPayment(context.Background(), &model.OrderQueryRequest{PayType: req.Channel, MchID: mchID, OutTradeNo: req.OutTradeNo}, time.Minute)
	if !errors.Is(err, client.ErrStillPending) {
		t.Fatalf("WaitForPayment: got %v, want ErrStillPending", err)
	}
	if resp == nil || resp.Outcome() != model.OutcomePending {
		t.Errorf("WaitForPayment: got last response %+v, want a pending one", resp)
	}
}

// TestPreOrderLegacyAlipayProfitSharing: the legacy Alipay pre-order
// documents no profit sharing, so a v1 ALIPAY request carrying it is
// refused unsent (ErrBadRequest naming the field), while v2 sends it on.
func TestPreOrderLegacyAlipayProfitSharing(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	for _, v := range []model.Version{model.V1, model.V2} {
		req := simPreOrder(model.PayAlipay, model.TradeTypeNative)
		req.ProfitSharing, req.ProfitSharingReceiver = "Y", `[{"account":"190001","amount":1}]`
		_, err := simClient(t, v, sim).PreOrder(context.Background(), req)
		_, sent := sim.Order(req.OutTradeNo)
		switch v {
		case model.V1:
			if !errors.Is(err, client.ErrBadRequest) || !strings.Contains(err.Error(), "profit_sharing") || sent {
				t.Errorf("v1: got %v (sent %v), want ErrBadRequest naming profit_sharing, nothing sent", err, sent)
			}
		default:
			form, _ := sim.PreOrderRequest(req.OutTradeNo)
			if err != nil || form.Get("profit_sharing_receiver") != req.ProfitSharingReceiver {
				t.Errorf("v2: got %v, receiver %q; want it sent unchanged", err, form.Get("profit_sharing_receiver"))
			}
		}
	}
}
