package main

import (
	"strings"
	"testing"

	"github.com/cypaykit/kit/gatewaytest"
)

// paidSimOrder starts a simulator with merchant 00000001 and a paid order
// of 100 fen, ORDER20001.
func paidSimOrder(t *testing.T) *gatewaytest.Server {
	t.Helper()
	sim := simWithOrders(t, gatewaytest.Config{}, "ORDER20001")
	if err := sim.Pay("ORDER20001"); err != nil {
		t.Fatal(err)
	}
	return sim
}

func TestRefundCommands(t *testing.T) {
	t.Setenv("CYPAY_KEY", testKey)
	sim := paidSimOrder(t)
	base := []string{"-gateway", sim.URL, "-mch-id", "00000001"}
	code, out, errOut := runCLI(t, "", append(append([]string{"refund"}, base...),
		"-out-trade-no", "ORDER20001", "-out-refund-no", "ORDER20001-01", "-total-fee", "100", "-refund-fee", "40")...)
	if code != 0 || !strings.Contains(out, "accepted") || !strings.Contains(out, "refund_fee=40") {
		t.Fatalf("refund: got exit %d stdout %q stderr %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, testKey) {
		t.Errorf("refund printed the key")
	}
	if got := sim.Refunds("ORDER20001"); len(got) != 1 || got[0].Fee != 40 {
		t.Errorf("gateway refunds: got %+v, want one of 40", got)
	}
	code, out, errOut = runCLI(t, "", append(append([]string{"refundquery"}, base...), "-out-refund-no", "ORDER20001-01")...)
	if code != 0 || !strings.Contains(out, "refund_status=SUCCESS") || !strings.Contains(out, "out_refund_no=ORDER20001-01") {
		t.Fatalf("refundquery: got exit %d stdout %q stderr %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, testKey) {
		t.Errorf("refundquery printed the key")
	}
	// Over what is left: the gateway's 20008.
	code, _, errOut = runCLI(t, "", append(append([]string{"refund"}, base...),
		"-out-trade-no", "ORDER20001", "-out-refund-no", "ORDER20001-02", "-total-fee", "100", "-refund-fee", "61")...)
	if code != 1 || !strings.Contains(errOut, "20008") {
		t.Errorf("refund over what is left: got exit %d stderr %q, want 1 naming 20008", code, errOut)
	}
}

// TestRefundUnknownOutcome: a lost reply says to query and keep the number.
func TestRefundUnknownOutcome(t *testing.T) {
	t.Setenv("CYPAY_KEY", testKey)
	sim := paidSimOrder(t)
	sim.SetFaults("ORDER20001", gatewaytest.Faults{RefundLostReplies: 1})
	code, _, errOut := runCLI(t, "", "refund", "-gateway", sim.URL, "-mch-id", "00000001",
		"-out-trade-no", "ORDER20001", "-out-refund-no", "R1", "-total-fee", "100", "-refund-fee", "10")
	if code != 1 || !strings.Contains(errOut, "cypay refundquery -out-refund-no R1") || !strings.Contains(errOut, "same -out-refund-no") {
		t.Errorf("lost reply: got exit %d stderr %q, want advice to query R1 and keep the number", code, errOut)
	}
}

func TestRefundUsage(t *testing.T) {
	t.Setenv("CYPAY_KEY", "")
	ok := []string{"-gateway", "http://127.0.0.1:1", "-mch-id", "M", "-key", "k", "-out-trade-no", "O1", "-out-refund-no", "R1", "-total-fee", "10", "-refund-fee", "5"}
	with := func(kv ...string) []string {
		args := append([]string{"refund"}, ok...)
		for i := 0; i+1 < len(kv); i += 2 {
			for j := 1; j+1 < len(args); j++ {
				if args[j] == kv[i] {
					args[j+1] = kv[i+1]
				}
			}
		}
		return args
	}
	tests := []struct {
		name string
		args []string
	}{
		{"no key", with("-key", "")},
		{"bad gateway", with("-gateway", "ftp://x")},
		{"refund over total", with("-refund-fee", "11")},
		{"zero refund", with("-refund-fee", "0")},
		{"long number", with("-out-refund-no", strings.Repeat("R", 33))},
		{"v1 without agent", append(with(), "-version", "v1")},
		{"query with both ids", []string{"refundquery", "-gateway", "http://127.0.0.1:1", "-mch-id", "M", "-key", "k", "-out-refund-no", "R", "-refund-id", "I"}},
		{"query with no id", []string{"refundquery", "-gateway", "http://127.0.0.1:1", "-mch-id", "M", "-key", "k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, errOut := runCLI(t, "", tc.args...); code != exitUsage {
				t.Errorf("got exit %d (%q), want %d", code, errOut, exitUsage)
			}
		})
	}
}
