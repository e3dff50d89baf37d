package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/sign"
)

const testKey = "0123456789abcdef0123456789abcdef"

// vectorArgs is the first vector of docs/protocol.md section 2.4.
var vectorArgs = []string{
	"method=PreOrder_WECHAT", "pid=yunpos", "version=1.0", "mch_id=00000001", "trade_type=NATIVE",
	"body=超赢支付", "out_trade_no=1497769914931", "total_fee=4", "product_id=P001",
	"notify_url=http://example.com/notify", "nonce_str=",
}

// runCLI runs the command in-process and returns its exit code and output.
func runCLI(t testing.TB, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSign(t *testing.T) {
	t.Setenv("CYPAY_KEY", "")
	form := url.Values{}
	for _, a := range vectorArgs {
		k, v, _ := strings.Cut(a, "=")
		form.Set(k, v)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"md5 from args", "", append([]string{"sign", "-key", testKey}, vectorArgs...), "FEDCE5974C86B57A5C6670A71E86DA70\n"},
		{"md5 from stdin", form.Encode() + "\n", []string{"sign", "-key", testKey}, "FEDCE5974C86B57A5C6670A71E86DA70\n"},
		{"sha1", "", append([]string{"sign", "-key", testKey, "-alg", "SHA1"}, vectorArgs...), "3512140CB12D12A23109160B38712096C7B51848\n"},
		{"sha256", "", append([]string{"sign", "-key", testKey, "-alg", "sha256"}, vectorArgs...), "9E0BBDFBDA73EF5D7486245FBDA2D605ECA8E2082C7F30FB2884A7894D1CE0E0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.stdin, tt.args...)
			if code != 0 || out != tt.want {
				t.Errorf("got exit %d stdout %q stderr %q, want 0 and %q", code, out, errOut, tt.want)
			}
		})
	}
	t.Run("verbose masks the key", func(t *testing.T) {
		code, out, _ := runCLI(t, "", append([]string{"sign", "-v", "-key", testKey}, vectorArgs...)...)
		if code != 0 {
			t.Fatalf("got exit %d", code)
		}
		if strings.Contains(out, testKey) {
			t.Errorf("output shows the key: %q", out)
		}
		if !strings.Contains(out, "&version=1.0&key=****\n") || !strings.Contains(out, "FEDCE5974C86B57A5C6670A71E86DA70") {
			t.Errorf("got %q, want the masked string and the sign", out)
		}
	})
	t.Run("key from environment", func(t *testing.T) {
		t.Setenv("CYPAY_KEY", testKey)
		code, out, _ := runCLI(t, "", append([]string{"sign"}, vectorArgs...)...)
		if code != 0 || out != "FEDCE5974C86B57A5C6670A71E86DA70\n" {
			t.Errorf("got exit %d %q", code, out)
		}
	})
	t.Run("duplicate name", func(t *testing.T) {
		code, _, errOut := runCLI(t, "", "sign", "-key", testKey, "a=1", "a=2")
		if code != 1 || !strings.Contains(errOut, "malformed") {
			t.Errorf("got exit %d stderr %q, want 1 and a malformed error", code, errOut)
		}
	})
}

func TestVerify(t *testing.T) {
	t.Setenv("CYPAY_KEY", "")
	signed := append([]string{"sign=FEDCE5974C86B57A5C6670A71E86DA70"}, vectorArgs...)
	lower := append([]string{"sign=fedce5974c86b57a5c6670a71e86da70"}, vectorArgs...)
	tampered := append([]string{"sign=FEDCE5974C86B57A5C6670A71E86DA70", "total_fee=5"}, vectorArgs[:7]...)
	tests := []struct {
		name     string
		stdin    string
		args     []string
		code     int
		stdout   string
		inStderr string
	}{
		{"valid", "", append([]string{"verify", "-key", testKey}, signed...), 0, "ok\n", ""},
		{"lower-case sign", "", append([]string{"verify", "-key", testKey}, lower...), 0, "ok\n", ""},
		{"valid from stdin", "a=1&b=2&sign=" + mustSign(t, "a=1&b=2"), []string{"verify", "-key", testKey}, 0, "ok\n", ""},
		{"wrong key", "", append([]string{"verify", "-key", "other"}, signed...), 1, "", sign.ErrBadSign.Error()},
		{"tampered", "", append([]string{"verify", "-key", testKey}, tampered...), 1, "", sign.ErrBadSign.Error()},
		{"no sign", "", append([]string{"verify", "-key", testKey}, vectorArgs...), 1, "", sign.ErrMissingSign.Error()},
		{"no key", "", append([]string{"verify"}, signed...), 2, "", "no key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.stdin, tt.args...)
			if code != tt.code || out != tt.stdout || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("got exit %d stdout %q stderr %q, want %d %q and stderr with %q", code, out, errOut, tt.code, tt.stdout, tt.inStderr)
			}
			if strings.Contains(errOut, testKey) {
				t.Errorf("stderr shows the key: %q", errOut)
			}
		})
	}
}

func mustSign(t testing.TB, form string) string {
	t.Helper()
	v, err := url.ParseQuery(form)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.Sign(v, testKey, sign.MD5)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no command", nil},
		{"unknown command", []string{"frobnicate"}},
		{"unknown flag", []string{"sign", "-nope", "a=1"}},
		{"bad algorithm", []string{"sign", "-key", "k", "-alg", "CRC32", "a=1"}},
		{"argument without =", []string{"sign", "-key", "k", "novalue"}},
		{"notify without url", []string{"notify", "-key", "k", "-mch-id", "1", "-out-trade-no", "A1234", "-total-fee", "1"}},
		{"notify bad fee", []string{"notify", "-url", "http://127.0.0.1:1/", "-key", "k", "-mch-id", "1", "-out-trade-no", "A1234", "-total-fee", "x"}},
		{"notify bad channel", []string{"notify", "-url", "http://127.0.0.1:1/", "-key", "k", "-mch-id", "1", "-out-trade-no", "A1234", "-total-fee", "1", "-channel", "QQ"}},
		{"sim without merchants", []string{"sim", "-merchants", ""}},
		{"sim bad merchants", []string{"sim", "-merchants", "00000001"}},
		{"sim bad time scale", []string{"sim", "-merchants", "1=k", "-time-scale", "fast"}},
		{"sim half an agent", []string{"sim", "-merchants", "1=k", "-agent-id", "A"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, "", tt.args...)
			if code != 2 || errOut == "" {
				t.Errorf("got exit %d stderr %q, want 2 and a message", code, errOut)
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		if code, _, errOut := runCLI(t, "", "sign", "-h"); code != 0 || !strings.Contains(errOut, "Usage: cypay sign") {
			t.Errorf("got exit %d stderr %q, want 0 and the usage", code, errOut)
		}
	})
}

func TestNotify(t *testing.T) {
	t.Setenv("CYPAY_KEY", "")
	var mu sync.Mutex
	var got url.Values
	reply := "success"
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		got = r.PostForm
		rp := reply
		mu.Unlock()
		io.WriteString(w, rp)
	}))
	t.Cleanup(rc.Close)
	args := []string{"notify", "-url", rc.URL + "/notify", "-key", testKey, "-mch-id", "00000001",
		"-out-trade-no", "ORDER10001", "-total-fee", "100", "-channel", "ALIPAY", "-transaction-id", "T1"}

	code, out, errOut := runCLI(t, "", args...)
	if code != 0 || !strings.Contains(out, "HTTP 200") || !strings.Contains(out, `reply: "success"`) {
		t.Fatalf("got exit %d stdout %q stderr %q", code, out, errOut)
	}
	mu.Lock()
	body := got
	mu.Unlock()
	if err := sign.Verify(body, sign.MD5, testKey); err != nil {
		t.Errorf("the notification does not verify: %v", err)
	}
	for k, want := range map[string]string{"mch_id": "00000001", "out_trade_no": "ORDER10001", "total_fee": "100",
		"transaction_id": "T1", "pay_result": "0", "trade_type": "pay.alipay.native", "state": "SUCCESS", "result_code": "SUCCESS"} {
		if body.Get(k) != want {
			t.Errorf("got %s=%q, want %q", k, body.Get(k), want)
		}
	}
	if body.Get("buyer_user_id") == "" {
		t.Error("the Alipay layout lacks buyer_user_id")
	}

	mu.Lock()
	reply = "SUCCESS"
	mu.Unlock()
	code, out, errOut = runCLI(t, "", args...)
	if code != 1 || !strings.Contains(out, `reply: "SUCCESS"`) || !strings.Contains(errOut, "not exactly") {
		t.Errorf("reply SUCCESS: got exit %d stdout %q stderr %q, want 1", code, out, errOut)
	}

	t.Run("dry run", func(t *testing.T) {
		code, out, _ := runCLI(t, "", "notify", "-n", "-key", testKey, "-mch-id", "00000001", "-out-trade-no", "ORDER10002", "-total-fee", "4", "-fail")
		v, err := url.ParseQuery(strings.TrimSpace(out))
		if code != 0 || err != nil || v.Get("pay_result") != "1" || v.Get("trade_type") != "pay.weixin.native" {
			t.Fatalf("got exit %d %q", code, out)
		}
		if err := sign.Verify(v, sign.MD5, testKey); err != nil {
			t.Error(err)
		}
	})
}

func TestSim(t *testing.T) {
	t.Setenv("CYPAY_SIM_MERCHANTS", "00000001="+testKey)
	t.Setenv("CYPAY_SIM_AGENT_ID", "")
	t.Setenv("CYPAY_SIM_AGENT_KEY", "")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runContext(ctx, []string{"sim", "-addr", "127.0.0.1:0", "-time-scale", "0.001"}, nil, pw, &errOut)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no output; stderr %q", errOut.String())
	}
	first := lines.Text()
	base := first[strings.Index(first, "http://"):]
	rest := make(chan string, 100)
	go func() {
		for lines.Scan() {
			rest <- lines.Text()
		}
		close(rest)
	}()
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "success") }))
	t.Cleanup(shop.Close)

	// The simulator answers a signed v2 pre-order and is driven by curl-able
	// control endpoints.
	p := url.Values{"method": {"PreOrder_WECHAT"}, "pid": {"t"}, "version": {"1"}, "mch_id": {"00000001"},
		"body": {"b"}, "out_trade_no": {"SIM00001"}, "total_fee": {"1"}, "trade_type": {"NATIVE"}, "product_id": {"P"},
		"notify_url": {shop.URL + "/notify"}}
	p.Set("sign", mustSign(t, p.Encode()))
	resp, err := http.PostForm(base+"/v2/UnifiedPay/Gateway", p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"code":"10000"`) {
		t.Fatalf("pre-order: got %s", b)
	}
	resp, err = http.Post(base+"/sim/pay/SIM00001", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("pay: got HTTP %d, want 200", resp.StatusCode)
	}

	timeout := time.After(10 * time.Second)
wait:
	for {
		select {
		case line, ok := <-rest:
			if !ok {
				t.Error("sim stopped before logging the delivery")
				break wait
			}
			if strings.HasPrefix(line, "notify SIM00001 attempt 1/12: HTTP 200") {
				if !strings.HasSuffix(line, "settled") {
					t.Errorf("got log line %q, want it settled", line)
				}
				break wait
			}
		case <-timeout:
			t.Error("no delivery log line")
			break wait
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("got exit %d, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop")
	}
	if strings.Contains(first, testKey) {
		t.Error("the banner shows a key")
	}
}
