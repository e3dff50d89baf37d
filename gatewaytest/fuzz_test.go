package gatewaytest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzGateway posts arbitrary bodies to every endpoint: the simulator must
// answer a JSON object with a state, and only a correctly signed request
// may succeed.
func FuzzGateway(f *testing.F) {
	for _, seed := range []string{
		"",
		"method=orderquery&mch_id=00000001&sign=00",
		"method=PreOrder_WECHAT&pid=a&version=1&mch_id=00000001&out_trade_no=ABCDE&total_fee=1&trade_type=NATIVE&sign=FEDCE5974C86B57A5C6670A71E86DA70",
		"a=1&a=2&sign=x",
		"%zz=1",
		"agent_id=13000000000000000&sign=AB",
	} {
		f.Add(uint8(0), seed)
	}
	s := RunT(f, fastConfig())
	paths := []string{"/v2/UnifiedPay/Gateway", "/UnifiedPay/Gateway", "/Open/WECHAT_PreOrder", "/Open/ALIPAY_PreOrder"}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		resp, err := http.Post(s.URL+paths[int(which)%len(paths)], "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r map[string]string
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("reply %q is not a JSON object of strings: %v", b, err)
		}
		if r["state"] != "FAIL" && r["state"] != "SUCCESS" {
			t.Fatalf("got state %q", r["state"])
		}
		if r["state"] == "SUCCESS" && !isSigned(r, key1) && !isSigned(r, key2) && !isSigned(r, agentK) {
			t.Fatalf("unsigned success %v", r)
		}
	})
}
