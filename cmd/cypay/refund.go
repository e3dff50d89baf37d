package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// gatewayFlags are what refund and refundquery need to reach the gateway
// as one merchant. The key comes from -key or $CYPAY_KEY and is never
// printed.
type gatewayFlags struct {
	gateway, version, mchID, key, agentID, payType, alg string
	timeout                                             time.Duration
}

func (g *gatewayFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.gateway, "gateway", "", "gateway base URL, e.g. https://pay.storepos.cn or the simulator's (required)")
	fs.StringVar(&g.version, "version", "v2", "protocol: v2 (merchant key) or v1 (agent key)")
	fs.StringVar(&g.mchID, "mch-id", "", "mch_id (required)")
	fs.StringVar(&g.key, "key", "", "the merchant key (v2) or agent key (v1) (default $CYPAY_KEY)")
	fs.StringVar(&g.agentID, "agent-id", "", "agent_id (v1 only)")
	fs.StringVar(&g.payType, "paytype", "WECHAT", "paytype of the paid order: WECHAT, ALIPAY, ECNY, …")
	fs.StringVar(&g.alg, "alg", "MD5", "algorithm: MD5, SHA1, SHA256 or HMAC-SHA256")
	fs.DurationVar(&g.timeout, "timeout", 15*time.Second, "HTTP timeout")
}

// client checks the flags and builds the gateway client.
func (g *gatewayFlags) client() (*client.Client, error) {
	if u, err := url.Parse(g.gateway); g.gateway == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("-gateway must be an http(s) URL")
	}
	v := model.Version(g.version)
	if !v.Valid() {
		return nil, usagef("-version %q: want v1 or v2", g.version)
	}
	if g.mchID == "" {
		return nil, usagef("-mch-id is required")
	}
	k := keyFlag(g.key)
	if k == "" {
		return nil, usagef("no key: give -key or set CYPAY_KEY")
	}
	if v == model.V1 && g.agentID == "" {
		return nil, usagef("-agent-id is required with -version v1")
	}
	alg, err := sign.ParseAlgorithm(g.alg)
	if err != nil {
		return nil, usagef("%v", err)
	}
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{g.mchID: k})}
	if v == model.V1 {
		keys = client.Keyring{AgentID: g.agentID, AgentKey: k}
	}
	return client.New(client.Config{
		GatewayURL: strings.TrimRight(g.gateway, "/"), Version: v, Keys: keys, Algorithm: alg,
		HTTPClient: &http.Client{Timeout: g.timeout},
	})
}

func cmdRefund(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("refund", "-gateway URL -mch-id M [-key K] -out-trade-no O -out-refund-no R -total-fee F -refund-fee F [flags]", stderr)
	var g gatewayFlags
	g.register(fs)
	outTradeNo := fs.String("out-trade-no", "", "the paid order's out_trade_no (required)")
	outRefundNo := fs.String("out-refund-no", "", "this refund's number, at most 32 characters (required; reuse it when retrying)")
	totalFee := fs.Int64("total-fee", 0, "the order's amount due in fen (required)")
	refundFee := fs.Int64("refund-fee", 0, "the refund in fen (required)")
	opUser := fs.String("op-user-id", "", "op_user_id (default: the mch_id)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	switch {
	case *outTradeNo == "" || *outRefundNo == "":
		return usagef("-out-trade-no and -out-refund-no are required")
	case len(*outRefundNo) > 32:
		return usagef("-out-refund-no is longer than 32 characters")
	case *totalFee <= 0 || *refundFee <= 0 || *refundFee > *totalFee:
		return usagef("-total-fee and -refund-fee must be positive fen, the refund at most the total")
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	resp, err := c.Refund(ctx, &model.RefundRequest{
		PayType: model.PayType(strings.ToUpper(g.payType)), MchID: g.mchID, OutTradeNo: *outTradeNo,
		OutRefundNo: *outRefundNo, TotalFee: *totalFee, RefundFee: *refundFee, OpUserID: *opUser,
	})
	if err != nil {
		if client.Uncertain(err) {
			return fmt.Errorf("%w\nthe outcome is unknown: run cypay refundquery -out-refund-no %s, and retry only with the same -out-refund-no and -refund-fee", err, *outRefundNo)
		}
		return err
	}
	fmt.Fprintf(stdout, "accepted\nout_trade_no=%s\nout_refund_no=%s\nrefund_id=%s\nrefund_fee=%d\n",
		resp.OutTradeNo, resp.OutRefundNo, resp.RefundID, resp.RefundFee)
	fmt.Fprintf(stdout, "run cypay refundquery -out-refund-no %s for its refund_status\n", *outRefundNo)
	return nil
}

func cmdRefundQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("refundquery", "-gateway URL -mch-id M [-key K] (-out-refund-no R | -refund-id I) [flags]", stderr)
	var g gatewayFlags
	g.register(fs)
	outRefundNo := fs.String("out-refund-no", "", "the refund's out_refund_no")
	refundID := fs.String("refund-id", "", "the gateway's refund_id (when no -out-refund-no)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if (*outRefundNo == "") == (*refundID == "") {
		return usagef("give exactly one of -out-refund-no and -refund-id")
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	resp, err := c.RefundQuery(ctx, &model.RefundQueryRequest{
		PayType: model.PayType(strings.ToUpper(g.payType)), MchID: g.mchID, OutRefundNo: *outRefundNo, RefundID: *refundID,
	})
	if err != nil {
		return err
	}
	items, err := resp.RefundItems()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "out_trade_no=%s\nrefund_count=%d\nrefund_fee_summary=%d\n", resp.OutTradeNo, resp.RefundCount, resp.RefundFeeSummary)
	for _, it := range items {
		at := it.RefundTime
		if t, err := model.ParseTime(it.RefundTime); err == nil {
			at = t.Format(time.RFC3339)
		}
		meaning := ""
		if m, ok := it.RefundStatus.Meaning(); ok {
			meaning = " (" + m.EN + ")"
		}
		fmt.Fprintf(stdout, "refund out_refund_no=%s refund_id=%s refund_fee=%d refund_status=%s%s refund_time=%s\n",
			it.OutRefundNo, it.RefundID, it.RefundFee, it.RefundStatus, meaning, at)
	}
	return nil
}
