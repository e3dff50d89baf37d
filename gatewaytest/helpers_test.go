package gatewaytest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/cypaykit/kit/sign"
)

const (
	mch1    = "00000001"
	key1    = "0123456789abcdef0123456789abcdef"
	mch2    = "00000002"
	key2    = "fedcba9876543210fedcba9876543210"
	agentID = "13000000000000000"
	agentK  = "agentkeyagentkeyagentkeyagentkey"
)

// fastConfig is a two-merchant simulator with an agent whose schedule
// runs a thousand times faster than the gateway's.
func fastConfig() Config {
	return Config{
		Merchants: map[string]string{mch1: key1, mch2: key2},
		AgentID:   agentID,
		AgentKey:  agentK,
		TimeScale: 0.0001,
	}
}

// call signs params with key (unless params already has a sign) and POSTs
// them to path, returning the decoded JSON reply.
func call(t testing.TB, base, path string, params url.Values, key string) map[string]string {
	t.Helper()
	if params.Get("sign") == "" && key != "" {
		sg, err := sign.Sign(params, key, sign.MD5)
		if err != nil {
			t.Fatal(err)
		}
		params.Set("sign", sg)
	}
	resp, err := http.PostForm(base+path, params)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: got HTTP %d, want 200", path, resp.StatusCode)
	}
	var out map[string]string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: reply %q is not a JSON object of strings: %v", path, b, err)
	}
	return out
}

// v2 builds a v2 request for method with the public parameters set.
func v2(method string, kv ...string) url.Values {
	v := url.Values{"method": {method}, "pid": {"yunpos"}, "version": {"1.0"}, "nonce_str": {"n1"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// v1 is v2 plus agent_id.
func v1(method string, kv ...string) url.Values {
	v := v2(method, kv...)
	v.Set("agent_id", agentID)
	return v
}

// preOrderParams are the business parameters of a NATIVE pre-order.
func preOrderParams(mchID, outTradeNo, notifyURL string) []string {
	return []string{
		"mch_id", mchID, "body", "超赢支付", "out_trade_no", outTradeNo, "total_fee", "100",
		"trade_type", "NATIVE", "product_id", "P001", "notify_url", notifyURL,
	}
}

// mustPreOrder creates a v2 WeChat NATIVE order for mch1.
func mustPreOrder(t testing.TB, s *Server, outTradeNo, notifyURL string) {
	t.Helper()
	r := call(t, s.URL, "/v2/UnifiedPay/Gateway", v2("PreOrder_WECHAT", preOrderParams(mch1, outTradeNo, notifyURL)...), key1)
	if r["state"] != "SUCCESS" || r["code"] != "10000" {
		t.Fatalf("pre-order %s: got %v, want SUCCESS/10000", outTradeNo, r)
	}
}

// expectFail asserts a FAIL reply with code and no sign.
func expectFail(t testing.TB, r map[string]string, code string) {
	t.Helper()
	if r["state"] != "FAIL" || r["code"] != code {
		t.Fatalf("got state=%q code=%q msg=%q, want FAIL/%s", r["state"], r["code"], r["msg"], code)
	}
	if _, ok := r["sign"]; ok {
		t.Errorf("failure reply carries a sign: %v", r)
	}
}

// receiver is a notify_url that answers from a script and records bodies.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []url.Values
	script []string // replies in turn; the last one repeats
}

func newReceiver(t testing.TB, script ...string) *receiver {
	t.Helper()
	rc := &receiver{script: script}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		n := len(rc.bodies)
		rc.bodies = append(rc.bodies, r.PostForm)
		reply := "success"
		if len(rc.script) > 0 {
			reply = rc.script[min(n, len(rc.script)-1)]
		}
		rc.mu.Unlock()
		io.WriteString(w, reply)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) received() []url.Values {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]url.Values(nil), rc.bodies...)
}

func (rc *receiver) notifyURL() string { return rc.URL + "/notify" }

// isSigned reports whether r verifies under key.
func isSigned(r map[string]string, key string) bool {
	return sign.VerifyMap(r, sign.MD5, key) == nil
}
