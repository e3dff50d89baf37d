package middleware_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

const (
	testMchID = "00000001"
	testKey   = "0123456789abcdef0123456789abcdef"
	oldKey    = "fedcba9876543210fedcba9876543210"
)

// notifyValues is the WeChat notification of the protocol's worked
// example, unsigned.
func notifyValues() url.Values {
	return url.Values{
		"bank_type":          {"CFT"},
		"mch_id":             {testMchID},
		"nonce_str":          {"1523929649387"},
		"out_trade_no":       {"1497769914931"},
		"out_transaction_id": {"4200000000000000000000000000"},
		"pay_result":         {"0"},
		"result_code":        {"SUCCESS"},
		"state":              {"SUCCESS"},
		"time_end":           {"20180417094729"},
		"total_fee":          {"4"},
		"trade_type":         {"pay.weixin.native"},
		"transaction_id":     {"199520439266201804177199552446"},
	}
}

// signed returns v with its sign under key and alg, form-encoded.
func signed(tb testing.TB, v url.Values, key string, alg sign.Algorithm) string {
	tb.Helper()
	s, err := sign.Sign(v, key, alg)
	if err != nil {
		tb.Fatalf("sign.Sign: %v", err)
	}
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	out.Set(sign.Param, s)
	return out.Encode()
}

// staticKeys knows testMchID only.
func staticKeys(keys ...string) client.Keyring {
	return merchantKeys(func(_ context.Context, mchID string) ([]string, error) {
		if mchID != testMchID {
			return nil, nil
		}
		return keys, nil
	})
}

// merchantKeys is a v2 keyring over f.
func merchantKeys(f func(context.Context, string) ([]string, error)) client.Keyring {
	return client.Keyring{MerchantKeys: f}
}

// logBuffer returns a logger writing JSON lines into the returned buffer.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, nil)), &buf
}

func notifyRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/pay/notify", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func newVerify(tb testing.TB, cfg middleware.VerifyConfig) func(http.Handler) http.Handler {
	tb.Helper()
	mw, err := middleware.VerifyNotification(cfg)
	if err != nil {
		tb.Fatalf("VerifyNotification: %v", err)
	}
	return mw
}

func TestVerifyNotificationConfig(t *testing.T) {
	t.Parallel()
	keys := staticKeys(testKey)
	tests := []struct {
		name string
		cfg  middleware.VerifyConfig
	}{
		{"no key resolver", middleware.VerifyConfig{}},
		{"negative max body", middleware.VerifyConfig{Keys: keys, MaxBody: -1}},
		{"negative body timeout", middleware.VerifyConfig{Keys: keys, BodyTimeout: -time.Second}},
		{"unknown algorithm", middleware.VerifyConfig{Keys: keys, Algorithm: "CRC32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mw, err := middleware.VerifyNotification(tt.cfg)
			if err == nil || mw != nil {
				t.Fatalf("got (%v, %v), want (nil, error)", mw != nil, err)
			}
		})
	}
}

func TestVerifyNotificationRejects(t *testing.T) {
	t.Parallel()
	good := signed(t, notifyValues(), testKey, sign.MD5)
	dup := good + "&total_fee=4"
	tampered := strings.Replace(good, "total_fee=4", "total_fee=1", 1)
	badUTF8 := func() string {
		v := notifyValues()
		v.Set("bank_type", "\xff\xfe")
		return signed(t, v, testKey, sign.MD5)
	}()
	otherMch := func() string {
		v := notifyValues()
		v.Set("mch_id", "99999999")
		return signed(t, v, testKey, sign.MD5)
	}()
	noSign := notifyValues().Encode()
	badFee := func() string {
		v := notifyValues()
		v.Set("total_fee", "4.00")
		return signed(t, v, testKey, sign.MD5)
	}()

	tests := []struct {
		name        string
		method      string
		contentType string
		target      string
		body        string
		keys        client.Keyring
		wantStatus  int
		wantReason  string
	}{
		{name: "GET", method: http.MethodGet, body: good, wantStatus: 405, wantReason: "not POST"},
		{name: "PUT", method: http.MethodPut, body: good, wantStatus: 405, wantReason: "not POST"},
		{name: "JSON content type", contentType: "application/json", body: good, wantStatus: 415, wantReason: "content type"},
		{name: "no content type", contentType: "-", body: good, wantStatus: 415, wantReason: "content type"},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", body: good, wantStatus: 415, wantReason: "content type"},
		{name: "body over the limit", body: good + "&pad=" + strings.Repeat("a", 70<<10), wantStatus: 413, wantReason: "too large"},
		{name: "empty body", body: "", wantStatus: 400, wantReason: "not a form"},
		{name: "bad escape", body: good + "&x=%zz", wantStatus: 400, wantReason: "not a form"},
		{name: "duplicate name", body: dup, wantStatus: 400, wantReason: "more than once"},
		{name: "duplicate sign", body: good + "&sign=00", wantStatus: 400, wantReason: "more than once"},
		{name: "invalid UTF-8", body: badUTF8, wantStatus: 400, wantReason: "UTF-8"},
		{name: "tampered amount", body: tampered, wantStatus: 401, wantReason: "does not verify"},
		{name: "missing sign", body: noSign, wantStatus: 401, wantReason: "does not verify"},
		{name: "sign only in the query string", target: "/pay/notify?sign=" + strings.Split(good, "sign=")[1][:32], body: noSign, wantStatus: 401, wantReason: "does not verify"},
		{name: "signed with another key", body: signed(t, notifyValues(), oldKey, sign.MD5), wantStatus: 401, wantReason: "does not verify"},
		{name: "signed with another algorithm", body: signed(t, notifyValues(), testKey, sign.SHA256), wantStatus: 401, wantReason: "does not verify"},
		{name: "unknown merchant", body: otherMch, wantStatus: 401, wantReason: "does not verify"},
		{name: "key lookup fails", body: good, keys: merchantKeys(func(context.Context, string) ([]string, error) {
			return nil, errors.New("db down")
		}), wantStatus: 500, wantReason: "key lookup failed"},
		{name: "verified but undecodable amount", body: badFee, wantStatus: 400, wantReason: "does not decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := logBuffer()
			keys := tt.keys
			if keys.MerchantKeys == nil {
				keys = staticKeys(testKey)
			}
			reached := false
			h := newVerify(t, middleware.VerifyConfig{Keys: keys, Logger: logger})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))

			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			target := tt.target
			if target == "" {
				target = "/pay/notify"
			}
			r := httptest.NewRequest(method, target, strings.NewReader(tt.body))
			switch tt.contentType {
			case "":
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "-":
			default:
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if reached {
				t.Error("next ran, want the request stopped")
			}
			if w.Code != tt.wantStatus {
				t.Errorf("got status %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Body.String(); got != "fail" {
				t.Errorf("got body %q, want %q", got, "fail")
			}
			if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
				t.Errorf("got Content-Type %q, want text/plain", got)
			}
			if !strings.Contains(logs.String(), tt.wantReason) {
				t.Errorf("log %q does not give the reason %q", logs.String(), tt.wantReason)
			}
			for _, secret := range []string{testKey, oldKey, "4200000000000000000000000000"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("log %q contains %q", logs.String(), secret)
				}
			}
		})
	}
}

func TestVerifyNotificationPasses(t *testing.T) {
	t.Parallel()
	values := notifyValues()
	values.Set("gmt_create", "20180417094700") // a known field the example omits
	values.Set("attach_x", "kept")             // an unknown one, kept in Extra
	tests := []struct {
		name        string
		cfg         middleware.VerifyConfig
		key         string
		contentType string
	}{
		{"MD5 default", middleware.VerifyConfig{Keys: staticKeys(testKey)}, testKey, ""},
		{"old key during rotation", middleware.VerifyConfig{Keys: staticKeys(testKey, oldKey)}, oldKey, ""},
		{"HMAC-SHA256", middleware.VerifyConfig{Keys: staticKeys(testKey), Algorithm: sign.HMACSHA256}, testKey, ""},
		{"algorithm in lower case", middleware.VerifyConfig{Keys: staticKeys(testKey), Algorithm: "sha1"}, testKey, ""},
		{"odd charset parameter", middleware.VerifyConfig{Keys: staticKeys(testKey)}, testKey, "application/x-www-form-urlencoded;charset=System.Text.UTF8Encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alg, err := sign.ParseAlgorithm(string(tt.cfg.Algorithm))
			if err != nil {
				t.Fatal(err)
			}
			body := signed(t, values, tt.key, alg)
			var (
				got      *model.Notification
				reread   string
				postForm string
			)
			h := newVerify(t, tt.cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, ok := middleware.NotificationFromContext(r.Context())
				if !ok {
					t.Error("NotificationFromContext: not found")
				}
				got = n
				b, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("re-reading the body: %v", err)
				}
				reread = string(b)
				postForm = r.PostFormValue("total_fee")
				io.WriteString(w, "success")
			}))
			// The query string tries to smuggle a different amount in.
			r := httptest.NewRequest(http.MethodPost, "/pay/notify?total_fee=1&sign=x", strings.NewReader(body))
			ct := tt.contentType
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			r.Header.Set("Content-Type", ct)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if w.Code != http.StatusOK || w.Body.String() != "success" {
				t.Fatalf("got %d %q, want 200 %q", w.Code, w.Body.String(), "success")
			}
			want, err := model.DecodeNotification(mustParse(t, body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("notification (-want +got):\n%s", diff)
			}
			if got != nil && (got.TotalFee != 4 || got.Extra.Get("attach_x") != "kept") {
				t.Errorf("got total_fee %d extra %v, want 4 and attach_x=kept", got.TotalFee, got.Extra)
			}
			if reread != body {
				t.Errorf("re-read body %q, want %q", reread, body)
			}
			if postForm != "4" {
				t.Errorf("got PostFormValue(total_fee) %q, want %q (the signed body, not the query)", postForm, "4")
			}
		})
	}
}

func TestVerifyNotificationResolverSeesMchID(t *testing.T) {
	t.Parallel()
	var got []string
	h := newVerify(t, middleware.VerifyConfig{Keys: merchantKeys(func(_ context.Context, mchID string) ([]string, error) {
		got = append(got, mchID)
		return []string{testKey}, nil
	})})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), notifyRequest(signed(t, notifyValues(), testKey, sign.MD5)))
	if diff := cmp.Diff([]string{testMchID}, got); diff != "" {
		t.Errorf("mch_id given to Keys (-want +got):\n%s", diff)
	}
}

func TestNotificationFromContextEmpty(t *testing.T) {
	t.Parallel()
	if n, ok := middleware.NotificationFromContext(context.Background()); ok || n != nil {
		t.Errorf("got (%v, %v), want (nil, false)", n, ok)
	}
}

func FuzzVerifyNotification(f *testing.F) {
	f.Add(signed(f, notifyValues(), testKey, sign.MD5))
	f.Add("a=1&a=2")
	f.Add("sign=&%zz")
	mw, err := middleware.VerifyNotification(middleware.VerifyConfig{
		Keys:   staticKeys(testKey),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Whatever reached next must verify on its own.
			if err := sign.Verify(mustParse(t, body), sign.MD5, testKey); err != nil {
				t.Errorf("next reached with a body that does not verify: %v", err)
			}
			if _, ok := middleware.NotificationFromContext(r.Context()); !ok {
				t.Error("next reached without a notification")
			}
		}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, notifyRequest(body))
		if w.Code != http.StatusOK && w.Body.String() != "fail" {
			t.Errorf("got %d %q, want a fail reply", w.Code, w.Body.String())
		}
	})
}

func mustParse(tb testing.TB, body string) url.Values {
	tb.Helper()
	v, err := url.ParseQuery(body)
	if err != nil {
		tb.Fatalf("ParseQuery: %v", err)
	}
	return v
}

// TestVerifyNotificationNeverBlankKeys: Keys returning an unset slot ("" or
// blank) beside the real key does not let anyone sign; Keys returning the
// key and an error verifies nothing.
func TestVerifyNotificationNeverBlankKeys(t *testing.T) {
	t.Parallel()
	forged := func(key string) string {
		v := notifyValues()
		s, err := sign.StringToSign(v, key)
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum([]byte(s))
		v.Set(sign.Param, strings.ToUpper(hex.EncodeToString(sum[:])))
		return v.Encode()
	}
	post := func(cfg middleware.VerifyConfig, body string) int {
		h := newVerify(t, cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		r := httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for _, slots := range [][]string{{"", testKey}, {testKey, " "}, {"\t", testKey}} {
		for _, blank := range []string{"", " ", "\t"} {
			if code := post(middleware.VerifyConfig{Keys: staticKeys(slots...)}, forged(blank)); code != http.StatusUnauthorized {
				t.Errorf("slots %q, signed with %q: got %d, want 401", slots, blank, code)
			}
		}
		if code := post(middleware.VerifyConfig{Keys: staticKeys(slots...)}, signed(t, notifyValues(), testKey, sign.MD5)); code != http.StatusNoContent {
			t.Errorf("slots %q, the real key: got %d, want it passed on", slots, code)
		}
	}
	partial := merchantKeys(func(context.Context, string) ([]string, error) { return []string{testKey}, errors.New("half down") })
	if code := post(middleware.VerifyConfig{Keys: partial}, signed(t, notifyValues(), testKey, sign.MD5)); code != http.StatusInternalServerError {
		t.Errorf("keys with an error: got %d, want 500", code)
	}
}
