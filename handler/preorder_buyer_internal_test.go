package handler

import "testing"

// TestBuyerOf: the fingerprint is "" but for JSPAY, tells apart buyers
// that differ in any field or in where one field ends and the next
// begins, and holds no raw field.
func TestBuyerOf(t *testing.T) {
	js := func(subAppID, buyerID, isMinipg, logon string) preOrderRequest {
		return preOrderRequest{TradeType: "JSPAY", SubAppID: subAppID, BuyerID: buyerID, IsMinipg: isMinipg, BuyerLogonID: logon}
	}
	if got := buyerOf(preOrderRequest{TradeType: "NATIVE", SubAppID: "wx1", BuyerID: "o1"}); got != "" {
		t.Errorf("NATIVE: got %q, want \"\"", got)
	}
	reqs := []preOrderRequest{
		js("ab", "c", "", ""), js("a", "bc", "", ""), js("abc", "", "", ""), js("", "abc", "", ""),
		js("wx1", "o1", "", ""), js("wx1", "o1", "0", ""), js("wx1", "o1", "1", ""),
		js("wx1", "o1", "", "u@x"), js("wx1", "o2", "", ""), js("wx2", "o1", "", ""),
		js("", "", "", ""), js("1:a", "", "", ""), js("", "", "", "1:a"),
	}
	seen := map[string]int{}
	for i, r := range reqs {
		b := buyerOf(r)
		if len(b) != 32 {
			t.Errorf("buyerOf(%+v) = %q: want 32 hex digits", r, b)
		}
		if j, ok := seen[b]; ok {
			t.Errorf("buyerOf(%+v) == buyerOf(%+v)", r, reqs[j])
		}
		seen[b] = i
		if buyerOf(r) != b {
			t.Errorf("buyerOf(%+v) is not deterministic", r)
		}
	}
}
