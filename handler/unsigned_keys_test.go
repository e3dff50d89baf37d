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

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store"
)

// signWith signs v with key by hand, as anyone can when the key is
// empty or blank (sign.Sign refuses an empty key).
func signWith(t testing.TB, v url.Values, key string) url.Values {
	t.Helper()
	out := url.Values{}
	for k, vs := range v {
		if !strings.EqualFold(k, sign.Param) {
			out[k] = vs
		}
	}
	s, err := sign.StringToSign(out, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(s))
	out.Set(sign.Param, strings.ToUpper(hex.EncodeToString(sum[:])))
	return out
}

// notifyWith is a Notify on e's settler with the keyring ring.
func notifyWith(t testing.TB, e *env, ring client.Keyring) *handler.Notify {
	t.Helper()
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: e.Settler, Keys: ring, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNotifyNeverBlankKeys: a host whose key function returns an unset
// rotation slot ("" or blank) beside the real key does not let anyone
// sign: a notification signed with the blank key is refused, one signed
// with the real key settles.
func TestNotifyNeverBlankKeys(t *testing.T) {
	t.Parallel()
	for _, slots := range [][]string{{"", keyA}, {keyA, ""}, {"  ", keyA}, {keyA, " "}} {
		e := newEnv(t, envOptions{})
		o := e.CreatePending(t, "BLANKKEY01", mchA, model.V2, 100)
		n := notifyWith(t, e, client.Keyring{MerchantKeys: func(context.Context, string) ([]string, error) { return slots, nil }})
		for _, blank := range []string{"", " ", "  "} {
			forged := signWith(t, signedNotification(t, o, keyA, nil), blank)
			w := httptestRecorder(n, http.MethodPost, "/notify", formType, forged.Encode())
			if w.Body.String() == "success" {
				t.Fatalf("slots %q: a notification signed with %q was accepted", slots, blank)
			}
			if got := e.Get(t, o.OutTradeNo).Status; got != store.Pending {
				t.Fatalf("slots %q: signed with %q: got %s, want PENDING", slots, blank, got)
			}
		}
		w := httptestRecorder(n, http.MethodPost, "/notify", formType, signedNotification(t, o, keyA, nil).Encode())
		if w.Body.String() != "success" || e.Get(t, o.OutTradeNo).Status != store.Paid {
			t.Errorf("slots %q: the real key's notification: got %q, want success and PAID", slots, w.Body.String())
		}
	}
}

// TestNotifyKeyLookupErrorFailsClosed: a key lookup that returns the key
// and an error is not verified against: the notification answers fail
// with 500 (the gateway retries) and nothing is stored.
func TestNotifyKeyLookupErrorFailsClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	o := e.CreatePending(t, "PARTKEY01", mchA, model.V2, 100)
	errDown := errors.New("key store half down")
	n := notifyWith(t, e, client.Keyring{MerchantKeys: func(context.Context, string) ([]string, error) {
		return []string{keyA}, errDown
	}})
	w := httptestRecorder(n, http.MethodPost, "/notify", formType, signedNotification(t, o, keyA, nil).Encode())
	if w.Code != http.StatusInternalServerError || w.Body.String() != "fail" {
		t.Errorf("got %d %q, want 500 fail", w.Code, w.Body.String())
	}
	if got := e.Get(t, o.OutTradeNo).Status; got != store.Pending {
		t.Errorf("got %s, want PENDING", got)
	}
}
