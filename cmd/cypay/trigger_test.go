package main

import (
	"context"
	"strings"
	"testing"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/model"
)

// simWithOrders starts a simulator from cfg (merchant 00000001 is added)
// with an unpaid NATIVE order of 100 fen per out_trade_no, which notifies
// nobody.
func simWithOrders(t *testing.T, cfg gatewaytest.Config, otns ...string) *gatewaytest.Server {
	t.Helper()
	cfg.Merchants = map[string]string{"00000001": testKey}
	sim := gatewaytest.RunT(t, cfg)
	c, err := client.New(client.Config{GatewayURL: sim.URL, Version: model.V2,
		Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{"00000001": testKey})}})
	if err != nil {
		t.Fatal(err)
	}
	for _, otn := range otns {
		if _, err := c.PreOrder(context.Background(), &model.PreOrderRequest{Channel: model.PayWeChat, MchID: "00000001",
			Body: "test", OutTradeNo: otn, TotalFee: 100, TradeType: model.TradeTypeNative, ProductID: "P1"}); err != nil {
			t.Fatal(err)
		}
	}
	return sim
}

// controlledSim is simWithOrders with the control routes on.
func controlledSim(t *testing.T, otns ...string) *gatewaytest.Server {
	t.Helper()
	return simWithOrders(t, gatewaytest.Config{ControlEndpoints: true}, otns...)
}

func TestTriggerCommands(t *testing.T) {
	sim := controlledSim(t, "TRIG00001", "TRIG00002", "TRIG00003")
	for _, tc := range []struct {
		args  []string
		state gatewaytest.OrderState
	}{
		{[]string{"paid", "TRIG00001"}, gatewaytest.PaidState},
		{[]string{"fail", "TRIG00002"}, gatewaytest.PayFailed},
		{[]string{"lost", "TRIG00003"}, gatewaytest.PaidState},
	} {
		code, out, errOut := runCLI(t, "", append([]string{"trigger", "-sim", sim.URL}, tc.args...)...)
		if code != exitOK || !strings.Contains(out, string(tc.state)) {
			t.Fatalf("trigger %q: exit %d %q %q", tc.args, code, out, errOut)
		}
		if o, _ := sim.Order(tc.args[1]); o.State != tc.state {
			t.Fatalf("trigger %q: simulator order %s, want %s", tc.args, o.State, tc.state)
		}
	}
	// The order was not sent to any notify_url: nothing to send again.
	if code, _, errOut := runCLI(t, "", "trigger", "-sim", sim.URL, "duplicate", "TRIG00001"); code != exitFail || !strings.Contains(errOut, "404") {
		t.Errorf("duplicate without a notification: exit %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "trigger", "-sim", sim.URL, "paid", "TRIGNONE1"); code != exitFail || !strings.Contains(errOut, "404") {
		t.Errorf("unknown order: exit %d %q", code, errOut)
	}
	for _, args := range [][]string{
		{"trigger", "-sim", sim.URL, "refund", "TRIG00001"},
		{"trigger", "-sim", sim.URL, "paid"},
		{"trigger", "-sim", "ftp://x", "paid", "TRIG00001"},
		{"clock", "-sim", sim.URL, "-advance", "-5m"},
	} {
		if code, _, _ := runCLI(t, "", args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestClockCommand(t *testing.T) {
	sim := controlledSim(t)
	t.Setenv("CYPAY_SIM_URL", sim.URL)
	code, out, errOut := runCLI(t, "", "clock", "-advance", "5m")
	if code != exitOK || !strings.Contains(out, `"advanced":"5m0s"`) {
		t.Fatalf("clock -advance 5m: exit %d %q %q", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "", "clock"); code != exitOK || !strings.Contains(out, `"advanced":"5m0s"`) {
		t.Fatalf("clock: exit %d %q", code, out)
	}
	if sim.Offset().Minutes() != 5 {
		t.Fatalf("simulator offset %s, want 5m", sim.Offset())
	}
}
