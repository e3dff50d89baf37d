package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/sign"
)

// envOr returns $name, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim", "[-addr 127.0.0.1:8090] [-merchants ID=KEY,...] [-agent-id A -agent-key K] [-time-scale 1]", stderr)
	addr := fs.String("addr", envOr("CYPAY_SIM_ADDR", "127.0.0.1:8090"), "loopback address to listen on ($CYPAY_SIM_ADDR)")
	merchants := fs.String("merchants", os.Getenv("CYPAY_SIM_MERCHANTS"), "merchants as mch_id=key pairs, comma-separated ($CYPAY_SIM_MERCHANTS)")
	agentID := fs.String("agent-id", os.Getenv("CYPAY_SIM_AGENT_ID"), "agent_id accepted by the v1 and /Open endpoints ($CYPAY_SIM_AGENT_ID)")
	agentKey := fs.String("agent-key", os.Getenv("CYPAY_SIM_AGENT_KEY"), "agent key ($CYPAY_SIM_AGENT_KEY)")
	scaleText := fs.String("time-scale", envOr("CYPAY_SIM_TIME_SCALE", "1"), "multiplier of the notification retry schedule, e.g. 0.01 ($CYPAY_SIM_TIME_SCALE)")
	algName := fs.String("alg", envOr("CYPAY_SIM_ALG", "MD5"), "algorithm: MD5, SHA1, SHA256 or HMAC-SHA256 ($CYPAY_SIM_ALG)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	m, err := parseMerchants(*merchants)
	if err != nil {
		return err
	}
	scale, err := strconv.ParseFloat(*scaleText, 64)
	if err != nil || scale <= 0 {
		return usagef("-time-scale %q: want a positive number", *scaleText)
	}
	alg, err := sign.ParseAlgorithm(*algName)
	if err != nil {
		return usagef("%v", err)
	}
	if (*agentID == "") != (*agentKey == "") {
		return usagef("give both -agent-id and -agent-key, or neither")
	}
	schedule := gatewaytest.RetrySchedule()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var logMu sync.Mutex // stdout need not be safe for concurrent use
	s, err := gatewaytest.Start(gatewaytest.Config{
		Merchants:        m,
		AgentID:          *agentID,
		AgentKey:         *agentKey,
		Algorithm:        alg,
		TimeScale:        scale,
		Addr:             *addr,
		ControlEndpoints: true,
		OnDelivery: func(d gatewaytest.Delivery) {
			logMu.Lock()
			defer logMu.Unlock()
			got := fmt.Sprintf("HTTP %d reply %q", d.Status, d.Reply)
			if d.Err != "" {
				got = "error: " + d.Err
			}
			next := "will retry"
			switch {
			case d.OK:
				next = "settled"
			case d.Attempt >= len(schedule):
				next = "gave up"
			}
			fmt.Fprintf(stdout, "notify %s attempt %d/%d: %s; %s\n", d.OutTradeNo, d.Attempt, len(schedule), got, next)
		},
	})
	if err != nil {
		return err
	}
	defer s.Close()
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	logMu.Lock()
	fmt.Fprintf(stdout, "cypay sim: UnifiedPay gateway simulator on %s\n", s.URL)
	fmt.Fprintf(stdout, "  merchants:  %s (keys not shown)\n", strings.Join(ids, ", "))
	fmt.Fprintf(stdout, "  v2 gateway: POST %s/v2/UnifiedPay/Gateway\n", s.URL)
	if *agentID != "" {
		fmt.Fprintf(stdout, "  v1 gateway: POST %s/UnifiedPay/Gateway (agent_id %s)\n", s.URL, *agentID)
		fmt.Fprintf(stdout, "  legacy:     POST %s/Open/WECHAT_PreOrder, %s/Open/ALIPAY_PreOrder\n", s.URL, s.URL)
	} else {
		fmt.Fprintf(stdout, "  v1 and legacy endpoints answer 20012: no -agent-id / -agent-key\n")
	}
	fmt.Fprintf(stdout, "  pay:        curl -X POST %s/sim/pay/{out_trade_no}\n", s.URL)
	fmt.Fprintf(stdout, "  fail:       curl -X POST %s/sim/fail/{out_trade_no}\n", s.URL)
	fmt.Fprintf(stdout, "  inspect:    curl %s/sim/orders/{out_trade_no}\n", s.URL)
	fmt.Fprintf(stdout, "  retry schedule × %g; stop with Ctrl-C\n", scale)
	logMu.Unlock()
	<-ctx.Done()
	return nil
}

// parseMerchants reads "ID=KEY,ID2=KEY2".
func parseMerchants(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, key, ok := strings.Cut(part, "=")
		id, key = strings.TrimSpace(id), strings.TrimSpace(key)
		if !ok || id == "" || key == "" {
			return nil, usagef("-merchants: %q is not mch_id=key", id)
		}
		if _, dup := m[id]; dup {
			return nil, usagef("-merchants: %s given twice", id)
		}
		m[id] = key
	}
	if len(m) == 0 {
		return nil, usagef("no merchants: give -merchants ID=KEY,... or set CYPAY_SIM_MERCHANTS")
	}
	return m, nil
}
