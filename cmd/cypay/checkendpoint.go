package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// cmdCheckEndpoint runs gatewaytest.CheckEndpoint against a deployed
// notify_url and, with -gateway, queries the attempt at the gateway. It
// exits 0 only when every check passes.
func cmdCheckEndpoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check-endpoint", "-url U -mch-id M [-key K] -out-trade-no O -total-fee F [-gateway URL] [flags]", stderr)
	var g gatewayFlags
	g.register(fs)
	fs.Lookup("gateway").Usage = "gateway base URL: when given, the attempt is also queried there (optional)"
	target := fs.String("url", "", "the shop's notify_url (required)")
	outTradeNo := fs.String("out-trade-no", "", "an open attempt made for this check: the battery ends by paying it (required)")
	totalFee := fs.Int64("total-fee", 0, "that attempt's amount in fen (required)")
	cutoff := fs.Duration("cutoff", 3*time.Second, "how soon the shop must cut off a slow body (the gateway waits 3s)")
	slowFor := fs.Duration("slow-for", 6*time.Second, "how long the slow body takes in full (must exceed -cutoff)")
	oversize := fs.Int("oversize", 1<<20, "size in bytes of the oversized, validly signed body")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	k := keyFlag(g.key)
	switch {
	case *target == "":
		return usagef("-url is required")
	case k == "":
		return usagef("no key: give -key or set CYPAY_KEY")
	case g.mchID == "" || *outTradeNo == "":
		return usagef("-mch-id and -out-trade-no are required")
	case *totalFee <= 0:
		return usagef("-total-fee must be a positive number of fen")
	case *slowFor <= *cutoff:
		return usagef("-slow-for must exceed -cutoff")
	}
	alg, err := sign.ParseAlgorithm(g.alg)
	if err != nil {
		return usagef("%v", err)
	}
	ch := model.PayType(strings.ToUpper(g.payType))
	if !ch.PreOrderable() {
		return usagef("-paytype %q: want WECHAT, ALIPAY or ECNY", g.payType)
	}
	results, err := gatewaytest.CheckEndpoint(ctx, gatewaytest.EndpointCheck{
		URL: *target, Key: k, Alg: alg, MchID: g.mchID, OutTradeNo: *outTradeNo, TotalFee: *totalFee,
		Channel: ch, Cutoff: *cutoff, SlowFor: *slowFor, Oversize: *oversize,
	})
	if err != nil {
		return usagef("%v", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tWANT\tGOT\tRESULT")
	failed := 0
	for _, r := range results {
		verdict := "PASS"
		if !r.Pass {
			verdict, failed = "FAIL", failed+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Want, r.Got, verdict)
	}
	total := len(results)
	if g.gateway != "" {
		total++
		got, pass := queryAttempt(ctx, &g, ch, *outTradeNo)
		verdict := "PASS"
		if !pass {
			verdict, failed = "FAIL", failed+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", "order query at the gateway", "signed reply", got, verdict)
	}
	tw.Flush()
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, total)
	}
	fmt.Fprintf(stdout, "all %d checks passed\n", total)
	return nil
}

// queryAttempt asks the gateway for the attempt: the check passes when
// the reply verifies with the key, whatever the attempt's state (the
// battery's notifications were the kit's own, not the gateway's).
func queryAttempt(ctx context.Context, g *gatewayFlags, ch model.PayType, outTradeNo string) (string, bool) {
	c, err := g.client()
	if err != nil {
		return err.Error(), false
	}
	resp, err := c.OrderQuery(ctx, &model.OrderQueryRequest{PayType: ch, MchID: g.mchID, OutTradeNo: outTradeNo})
	if err != nil {
		return err.Error(), false
	}
	return fmt.Sprintf("trade_state=%s", resp.TradeState), true
}
