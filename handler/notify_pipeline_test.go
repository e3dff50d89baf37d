package handler_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// forgedMD5 re-signs v with key by hand, so that a blank key (which the
// sign package refuses to sign with) can be tried as a forger would.
func forgedMD5(t testing.TB, v url.Values, key string) url.Values {
	t.Helper()
	v.Del(sign.Param)
	s, err := sign.StringToSign(v, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(s))
	v.Set(sign.Param, strings.ToUpper(hex.EncodeToString(sum[:])))
	return v
}

// hostAfterVerify is what a host's own handler behind
// middleware.VerifyNotification does before it settles: it requires the
// kind of key the order was made with, as middleware.SignedWith's doc
// says, and otherwise answers as Notify answers a bad sign.
func hostAfterVerify(version model.Version) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		merchantKey, agentKey := middleware.SignedWith(r.Context())
		if version == model.V2 && !merchantKey || version == model.V1 && !agentKey {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte("fail"))
			return
		}
		_, _ = w.Write([]byte("success"))
	})
}

// TestNotifyAndMiddlewareAgree proves handler.Notify and
// middleware.VerifyNotification run one verification pipeline with one
// key vocabulary: given the same client.Keyring, each input gets the same
// status and reply from both (the middleware followed by a host that
// checks the key's kind, which only a handler that knows the order can).
func TestNotifyAndMiddlewareAgree(t *testing.T) {
	t.Parallel()
	const otherKey = "other-key-0123456789abcdef01234"
	withSlots := func(slots ...string) client.Keyring {
		return client.Keyring{AgentID: agentID, AgentKey: agentKey,
			MerchantKeys: func(_ context.Context, id string) ([]string, error) {
				if id != mchA {
					return nil, client.ErrUnknownMerchant
				}
				return slots, nil
			}}
	}
	partial := client.Keyring{MerchantKeys: func(context.Context, string) ([]string, error) {
		return []string{keyA}, errors.New("key store half down")
	}}
	tests := []struct {
		name    string
		keys    client.Keyring
		version model.Version
		sign    func(t testing.TB, v url.Values) url.Values // nil: the order's own key
		want    int
	}{
		{name: "genuine v2", keys: handlertest.Keyring(), version: model.V2, want: http.StatusOK},
		{name: "genuine v1", keys: handlertest.Keyring(), version: model.V1, want: http.StatusOK},
		{name: "bad sign", keys: handlertest.Keyring(), version: model.V2, want: http.StatusUnauthorized,
			sign: func(t testing.TB, v url.Values) url.Values { return resigned(t, v, otherKey) }},
		{name: "tampered amount", keys: handlertest.Keyring(), version: model.V2, want: http.StatusUnauthorized,
			sign: func(_ testing.TB, v url.Values) url.Values { v.Set("total_fee", "1"); return v }},
		{name: "signed with a blank slot", keys: withSlots("", keyA), version: model.V2, want: http.StatusUnauthorized,
			sign: func(t testing.TB, v url.Values) url.Values { return forgedMD5(t, v, "") }},
		{name: "signed with a white-space slot", keys: withSlots(keyA, " "), version: model.V2, want: http.StatusUnauthorized,
			sign: func(t testing.TB, v url.Values) url.Values { return forgedMD5(t, v, " ") }},
		{name: "genuine beside a blank slot", keys: withSlots("\t", keyA), version: model.V2, want: http.StatusOK},
		{name: "old key during rotation", keys: withSlots(otherKey, keyA), version: model.V2, want: http.StatusOK},
		{name: "partial key list with an error", keys: partial, version: model.V2, want: http.StatusInternalServerError},
		{name: "unknown merchant", keys: withSlots(), version: model.V2, want: http.StatusUnauthorized},
		{name: "wrong version: agent key on a v2 order", keys: handlertest.Keyring(), version: model.V2, want: http.StatusUnauthorized,
			sign: func(t testing.TB, v url.Values) url.Values { return resigned(t, v, agentKey) }},
		{name: "wrong version: merchant key on a v1 order", keys: handlertest.Keyring(), version: model.V1, want: http.StatusUnauthorized,
			sign: func(t testing.TB, v url.Values) url.Values { return resigned(t, v, keyA) }},
		{name: "malformed decided field", keys: handlertest.Keyring(), version: model.V2, want: http.StatusBadRequest,
			sign: func(t testing.TB, v url.Values) url.Values { v.Set("total_fee", "4.00"); return resigned(t, v, keyA) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := memstore.New()
			s, err := handler.NewSettler(handler.SettlerConfig{Store: m, Locker: m, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			notify, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: tc.keys, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			verify, err := middleware.VerifyNotification(middleware.VerifyConfig{Keys: tc.keys, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			o := &store.Order{OutTradeNo: "AGREE00001", BusinessID: "B1", Attempt: 1, MchID: mchA, Version: tc.version,
				Amount: 1800, Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Status: store.Pending,
				CreatedAt: now, UpdatedAt: now}
			if err := m.Create(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			key := keyA
			if tc.version == model.V1 {
				key = agentKey
			}
			v := signedNotification(t, o, key, nil)
			if tc.sign != nil {
				v = tc.sign(t, v)
			}
			body := v.Encode()
			byNotify := httptestRecorder(notify, http.MethodPost, "/notify", formType, body)
			byMiddleware := httptestRecorder(verify(hostAfterVerify(tc.version)), http.MethodPost, "/notify", formType, body)
			if byNotify.Code != tc.want || byMiddleware.Code != tc.want {
				t.Errorf("status: Notify %d, middleware %d; want both %d", byNotify.Code, byMiddleware.Code, tc.want)
			}
			if a, b := byNotify.Body.String(), byMiddleware.Body.String(); a != b {
				t.Errorf("reply: Notify %q, middleware %q; want the same", a, b)
			}
		})
	}
}
