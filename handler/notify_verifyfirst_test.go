package handler_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// countingStore counts every call into the store.
type countingStore struct {
	store.OrderStore
	calls atomic.Int64
}

func (s *countingStore) Create(ctx context.Context, o *store.Order) error {
	s.calls.Add(1)
	return s.OrderStore.Create(ctx, o)
}

func (s *countingStore) Get(ctx context.Context, otn string) (*store.Order, error) {
	s.calls.Add(1)
	return s.OrderStore.Get(ctx, otn)
}

func (s *countingStore) ListByBusinessID(ctx context.Context, id string) ([]*store.Order, error) {
	s.calls.Add(1)
	return s.OrderStore.ListByBusinessID(ctx, id)
}

func (s *countingStore) SetCheckout(ctx context.Context, otn, codeURL, payInfo string, now time.Time) error {
	s.calls.Add(1)
	return s.OrderStore.SetCheckout(ctx, otn, codeURL, payInfo, now)
}

func (s *countingStore) Settle(ctx context.Context, otn string, p store.Payment, now time.Time) (bool, error) {
	s.calls.Add(1)
	return s.OrderStore.Settle(ctx, otn, p, now)
}

func (s *countingStore) MarkFulfilled(ctx context.Context, otn string, now time.Time) error {
	s.calls.Add(1)
	return s.OrderStore.MarkFulfilled(ctx, otn, now)
}

func (s *countingStore) Finish(ctx context.Context, otn string, st store.Status, reason string, now time.Time) error {
	s.calls.Add(1)
	return s.OrderStore.Finish(ctx, otn, st, reason, now)
}

func resigned(t testing.TB, v url.Values, key string) url.Values {
	t.Helper()
	v.Del("sign")
	s, err := sign.Sign(v, key, sign.MD5)
	if err != nil {
		t.Fatal(err)
	}
	v.Set("sign", s)
	return v
}

// TestBadSignNeverTouchesTheStore proves guarantee G13: a notification
// whose sign verifies under none of the keys that could sign for its
// mch_id is refused without a single store call.
func TestBadSignNeverTouchesTheStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version model.Version
		forge   func(t testing.TB, v url.Values) url.Values
	}{
		{"zero sign", model.V2, func(_ testing.TB, v url.Values) url.Values { v.Set("sign", strings.Repeat("0", 32)); return v }},
		{"missing sign", model.V2, func(_ testing.TB, v url.Values) url.Values { v.Del("sign"); return v }},
		{"sign of the wrong length", model.V2, func(_ testing.TB, v url.Values) url.Values { v.Set("sign", "AB"); return v }},
		{"unknown key", model.V2, func(t testing.TB, v url.Values) url.Values { return resigned(t, v, "not-a-key-0000000000000000000000") }},
		{"another merchant's key under its own mch_id", model.V2, func(t testing.TB, v url.Values) url.Values { return resigned(t, v, keyB) }},
		{"amount tampered", model.V1, func(_ testing.TB, v url.Values) url.Values { v.Set("total_fee", "1"); return v }},
		{"unknown mch_id", model.V2, func(t testing.TB, v url.Values) url.Values {
			v.Set("mch_id", "M999999")
			return resigned(t, v, "key-of-nobody-000000000000000000")
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cs *countingStore
			k := newLiteKit(t, "COUNT"+string(rune('A'+i))+"001", mchA, tc.version, 1800, func(m *memstore.Store) store.OrderStore {
				cs = &countingStore{OrderStore: m}
				return cs
			})
			key := keyA
			if tc.version == model.V1 {
				key = agentKey
			}
			v := tc.forge(t, genuine(t, k.order, model.PayWeChat, key, false, nil))
			got := k.post(t, encode(v))
			if n := cs.calls.Load(); n != 0 {
				t.Errorf("store calls: got %d, want 0", n)
			}
			if diff := cmp.Diff(outcome{Status: http.StatusUnauthorized, Reply: "fail", Order: k.order}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestKeyMustBeTheOrders proves G1's key rule: a v2 order is settled only
// under its merchant's key and a v1 order only under the agent key. A
// notification signed with the other one, paid or failed, is refused like
// a bad sign and changes nothing.
func TestKeyMustBeTheOrders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version model.Version
		key     string
		failed  bool
	}{
		{"agent key on a v2 order, paid", model.V2, agentKey, false},
		{"agent key on a v2 order, failed payment", model.V2, agentKey, true},
		{"merchant key on a v1 order, paid", model.V1, keyA, false},
		{"merchant key on a v1 order, failed payment", model.V1, keyA, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := newLiteKit(t, "KEYVER"+string(rune('A'+i))+"001", mchA, tc.version, 1800)
			got := k.post(t, encode(genuine(t, k.order, model.PayWeChat, tc.key, tc.failed, nil)))
			if diff := cmp.Diff(outcome{Status: http.StatusUnauthorized, Reply: "fail", Order: k.order}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnknownOrderAnswersLikeBadSign: an outsider cannot tell from the
// reply whether an out_trade_no exists: a validly signed notification for
// an unknown order and a badly signed one for a known order get the same
// status, headers and body.
func TestUnknownOrderAnswersLikeBadSign(t *testing.T) {
	t.Parallel()
	k := newLiteKit(t, "PROBE000001", mchA, model.V2, 1800)
	badSign := genuine(t, k.order, model.PayWeChat, keyA, false, nil)
	badSign.Set("sign", strings.Repeat("A", 32))
	unknown := genuine(t, k.order, model.PayWeChat, keyA, false, func(v url.Values) { v.Set("out_trade_no", "PROBE000002") })
	a := httptestRecorder(k.notify, http.MethodPost, "/notify", formType, encode(badSign))
	b := httptestRecorder(k.notify, http.MethodPost, "/notify", formType, encode(unknown))
	if a.Code != b.Code || a.Body.String() != b.Body.String() || !cmp.Equal(a.Header(), b.Header()) {
		t.Errorf("bad sign: %d %v %q; unknown order: %d %v %q; want them identical",
			a.Code, a.Header(), a.Body.String(), b.Code, b.Header(), b.Body.String())
	}
	if a.Body.String() != "fail" {
		t.Errorf("reply: got %q, want fail", a.Body.String())
	}
}

// TestKeyLookupFailureTouchesNoStore: when the host's MerchantKeys fails
// (its key store is down) the notification is answered fail with 500, so
// that the gateway retries, and the order store is not read.
func TestKeyLookupFailureTouchesNoStore(t *testing.T) {
	t.Parallel()
	m := memstore.New()
	cs := &countingStore{OrderStore: m}
	s, err := handler.NewSettler(handler.SettlerConfig{Store: cs, Locker: m, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Logger: quietLogger(), Keys: client.Keyring{
		MerchantKeys: func(context.Context, string) ([]string, error) { return nil, errInjected },
	}})
	if err != nil {
		t.Fatal(err)
	}
	o := &store.Order{OutTradeNo: "KEYSDOWN001", MchID: mchA, Version: model.V2, Amount: 1800, Channel: model.PayWeChat}
	w := httptestRecorder(n, http.MethodPost, "/notify", formType, encode(genuine(t, o, model.PayWeChat, keyA, false, nil)))
	if w.Code != http.StatusInternalServerError || w.Body.String() != "fail" {
		t.Errorf("reply: got %d %q, want 500 fail", w.Code, w.Body.String())
	}
	if c := cs.calls.Load(); c != 0 {
		t.Errorf("store calls: got %d, want 0", c)
	}
}

// TestAgentKeyAlsoAMerchantKey: a host that gives a merchant the agent
// key as its merchant key too still settles that merchant's v1 orders:
// the key is compared, not only its place among the candidates.
func TestAgentKeyAlsoAMerchantKey(t *testing.T) {
	t.Parallel()
	m := memstore.New()
	s, err := handler.NewSettler(handler.SettlerConfig{Store: m, Locker: m, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Logger: quietLogger(), Keys: client.Keyring{
		AgentKey: agentKey, MerchantKeys: client.StaticMerchantKeys(map[string]string{mchA: agentKey}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	o := &store.Order{OutTradeNo: "SAMEKEY0001", BusinessID: "B1", Attempt: 1, MchID: mchA, Version: model.V1,
		Amount: 1800, Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Status: store.Pending, CreatedAt: now, UpdatedAt: now}
	if err := m.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	w := httptestRecorder(n, http.MethodPost, "/notify", formType, encode(genuine(t, o, model.PayWeChat, agentKey, false, nil)))
	if w.Body.String() != "success" {
		t.Errorf("reply: got %d %q, want success", w.Code, w.Body.String())
	}
}
