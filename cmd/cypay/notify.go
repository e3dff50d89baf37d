package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// gatewayDeadline is how long the gateway waits for the reply.
const gatewayDeadline = 3 * time.Second

func cmdNotify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("notify", "-url U [-key K] -mch-id M -out-trade-no O -total-fee F [flags]", stderr)
	target := fs.String("url", "", "the notify_url to POST to (required)")
	key := fs.String("key", "", "signing key: the merchant key for v2 orders, the agent key for v1 (default $CYPAY_KEY)")
	mchID := fs.String("mch-id", "", "mch_id (required)")
	outTradeNo := fs.String("out-trade-no", "", "out_trade_no (required)")
	totalFee := fs.Int64("total-fee", 0, "total_fee in fen (required, > 0)")
	channel := fs.String("channel", "WECHAT", "layout: WECHAT, ALIPAY or ECNY")
	algName := fs.String("alg", "MD5", "algorithm: MD5, SHA1, SHA256 or HMAC-SHA256")
	txID := fs.String("transaction-id", "", "transaction_id (default: a fresh one)")
	tradeType := fs.String("trade-type", "", "notification trade_type (default: the channel's native one, e.g. pay.weixin.native)")
	failed := fs.Bool("fail", false, "announce a failed payment (pay_result=1)")
	dryRun := fs.Bool("n", false, "print the form body instead of sending it")
	timeout := fs.Duration("timeout", 10*time.Second, "HTTP timeout (the gateway itself gives up after 3s)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	alg, err := sign.ParseAlgorithm(*algName)
	if err != nil {
		return usagef("%v", err)
	}
	ch := model.PayType(strings.ToUpper(*channel))
	if !ch.PreOrderable() {
		return usagef("-channel %q: want WECHAT, ALIPAY or ECNY", *channel)
	}
	k := keyFlag(*key)
	switch {
	case *target == "" && !*dryRun:
		return usagef("-url is required")
	case k == "":
		return usagef("no key: give -key or set CYPAY_KEY")
	case *mchID == "" || *outTradeNo == "":
		return usagef("-mch-id and -out-trade-no are required")
	case *totalFee <= 0:
		return usagef("-total-fee must be a positive number of fen")
	}
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{
		Channel:       ch,
		MchID:         *mchID,
		OutTradeNo:    *outTradeNo,
		TransactionID: *txID,
		TotalFee:      *totalFee,
		TradeType:     *tradeType,
		Failed:        *failed,
	}, k, alg)
	if err != nil {
		return err
	}
	body := v.Encode()
	if *dryRun {
		fmt.Fprintln(stdout, body)
		return nil
	}
	if u, err := url.Parse(*target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("-url %q is not an http(s) URL", *target)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *target, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	fmt.Fprintf(stdout, "HTTP %d in %v\nreply: %q\n", resp.StatusCode, elapsed.Round(time.Millisecond), reply)
	if string(reply) != "success" {
		return errors.New(`the reply is not exactly "success": the gateway would retry`)
	}
	if elapsed > gatewayDeadline {
		return fmt.Errorf("the reply took %v, more than the gateway's %v: it would retry", elapsed.Round(time.Millisecond), gatewayDeadline)
	}
	return nil
}
