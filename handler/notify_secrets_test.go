package handler_test

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsCarryNoSecrets proves G9 and G8's "structured log line": every
// rejected notification is logged, and no log line carries a key, a
// signature or a raw body.
func TestLogsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	e := newEnv(t, envOptions{logOut: logs})
	o := e.CreatePending(t, "SECRETS01", mchA, model.V1, 500)
	good := signedNotification(t, o, agentKey, nil)
	bad := signedNotification(t, o, agentKey, func(p *gatewaytest.Payment) { p.TotalFee = 1 })
	forged := url.Values{}
	for k, v := range good {
		forged[k] = v
	}
	forged.Set("sign", strings.Repeat("B", 32))
	for _, v := range []url.Values{forged, bad, good} {
		e.PostNotify(t, v)
	}
	if got := e.Get(t, o.OutTradeNo).Status; got != store.Paid {
		t.Fatalf("status: got %s, want PAID", got)
	}
	out := logs.String()
	for _, want := range []string{"bad_sign", "amount_mismatch", "order paid"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{agentKey, keyA, keyB, good.Get("sign"), bad.Get("sign"), good.Get("nonce_str"), good.Encode()} {
		if strings.Contains(out, secret) {
			t.Errorf("logs carry a secret or payload %q:\n%s", secret, out)
		}
	}
}

// TestSignedExtraFieldsAccepted: fields the kit does not know are part of
// the signed set (never a whitelist), so a notification carrying them
// verifies and settles.
func TestSignedExtraFieldsAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	o := e.CreatePending(t, "EXTRA01", mchA, model.V2, 500)
	v := signedNotification(t, o, keyA, func(p *gatewaytest.Payment) {
		p.Extra = map[string]string{"gmt_create": "20240101120000", "future_field": "x"}
	})
	if got := e.PostNotify(t, v); got != "success" {
		t.Errorf("got %q, want success", got)
	}
	if got := e.Get(t, o.OutTradeNo).Status; got != store.Paid {
		t.Errorf("status: got %s, want PAID", got)
	}
}

// TestMalformedTotalFee: a validly signed total_fee that is not whole fen
// is rejected without change.
func TestMalformedTotalFee(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	o := e.CreatePending(t, "BADFEE01", mchA, model.V2, 500)
	v := signedNotification(t, o, keyA, func(p *gatewaytest.Payment) { p.Extra = map[string]string{"total_fee": "5.00"} })
	if got := e.PostNotify(t, v); got != "fail" {
		t.Errorf("got %q, want fail", got)
	}
	if got := e.Get(t, o.OutTradeNo).Status; got != store.Pending {
		t.Errorf("status: got %s, want PENDING", got)
	}
}

// TestMissingBusinessFields: a validly signed success without pay_result,
// total_fee or transaction_id is rejected without change, not guessed at.
func TestMissingBusinessFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for i, field := range []string{"pay_result", "total_fee", "transaction_id"} {
		t.Run(field, func(t *testing.T) {
			o := e.CreatePending(t, fmt.Sprintf("MISSING%02d", i), mchA, model.V2, 500)
			v := signedNotification(t, o, keyA, nil)
			v.Del(field)
			v.Del("sign")
			s, err := sign.Sign(v, keyA, sign.MD5)
			if err != nil {
				t.Fatal(err)
			}
			v.Set("sign", s)
			if got := e.PostNotify(t, v); got != "fail" {
				t.Errorf("got %q, want fail", got)
			}
			if diff := cmp.Diff(o, e.Get(t, o.OutTradeNo)); diff != "" {
				t.Errorf("order changed (-before +after):\n%s", diff)
			}
		})
	}
}
