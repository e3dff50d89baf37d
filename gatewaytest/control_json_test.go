package gatewaytest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// TestSimOrderJSONNames: GET /sim/orders/{out_trade_no} answers in the
// wire's snake_case names, like every other JSON the kit shows.
func TestSimOrderJSONNames(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.ControlEndpoints = true
	s := RunT(t, cfg)
	rc := newReceiver(t)
	mustPreOrder(t, s, "SJ00001", rc.notifyURL())
	resp, err := http.Get(s.URL + "/sim/orders/SJ00001")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range got {
		names = append(names, k)
		if strings.ToLower(k) != k {
			t.Errorf("name %q is not snake_case", k)
		}
	}
	sort.Strings(names)
	for _, want := range []string{"out_trade_no", "mch_id", "amount", "state", "notify_url", "created_at"} {
		if _, ok := got[want]; !ok {
			t.Errorf("no %q in %v", want, names)
		}
	}
	if got["out_trade_no"] != "SJ00001" {
		t.Errorf("out_trade_no: got %v, want SJ00001", got["out_trade_no"])
	}
}
