package client_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/sign"
)

// TestVerifyNotification: the notification check of handler.Notify and
// middleware.VerifyNotification, in the package that holds it (a mutation
// run over client/ runs only client's tests). Which key verified, and
// whether it is the merchant's (v2) or the agent's (v1), is what a caller
// compares with the order's version.
func TestVerifyNotification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	errDown := errors.New("key store down")
	lookups := 0
	rotating := func(_ context.Context, id string) ([]string, error) {
		lookups++
		switch id {
		case mchID:
			return []string{merchantKey, oldMchKey}, nil
		case "down":
			return []string{merchantKey}, errDown
		}
		return nil, client.ErrUnknownMerchant
	}
	ring := client.Keyring{AgentID: agentID, AgentKey: agentKey, MerchantKeys: rotating}
	paid := func(t *testing.T, mch, key string) url.Values {
		t.Helper()
		v, err := gatewaytest.NotificationValues(gatewaytest.Payment{
			MchID: mch, OutTradeNo: "ORDER00001", TotalFee: 100, TransactionID: "T100",
		}, key, sign.MD5)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// A failed notification need not name a merchant: it can only be the
	// agent's (v1) to verify.
	failed := func(t *testing.T, key string) url.Values {
		t.Helper()
		v := url.Values{"state": {"FAIL"}, "result_code": {"1"}, "out_trade_no": {"ORDER00001"}, "nonce_str": {"n1"}}
		s, err := sign.Sign(v, key, sign.MD5)
		if err != nil {
			t.Fatal(err)
		}
		v.Set(sign.Param, s)
		return v
	}

	for _, tc := range []struct {
		name         string
		values       func(t *testing.T) url.Values
		wantKey      string
		wantMerchant bool
	}{
		{"merchant's current key", func(t *testing.T) url.Values { return paid(t, mchID, merchantKey) }, merchantKey, true},
		{"merchant's old key", func(t *testing.T) url.Values { return paid(t, mchID, oldMchKey) }, oldMchKey, true},
		// The agent key comes right after the merchant's: its index is the
		// number of merchant keys, and it is not one of them.
		{"agent key", func(t *testing.T) url.Values { return paid(t, mchID, agentKey) }, agentKey, false},
		{"failed, no mch_id, agent key", func(t *testing.T) url.Values { return failed(t, agentKey) }, agentKey, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, merchant, err := ring.VerifyNotification(ctx, tc.values(t), sign.MD5)
			if err != nil {
				t.Fatalf("VerifyNotification: %v", err)
			}
			if key != tc.wantKey || merchant != tc.wantMerchant {
				t.Errorf("got the key %q (merchant's: %v), want %q (merchant's: %v)", key, merchant, tc.wantKey, tc.wantMerchant)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		recut := paid(t, mchID, merchantKey)
		recut.Set("total_fee", "100&total_fee=1")
		wrongKey := paid(t, mchID, "some-other-key-0123456789abcdef0")
		unsigned := paid(t, mchID, merchantKey)
		unsigned.Del(sign.Param)
		for _, tc := range []struct {
			name   string
			values url.Values
			want   error
		}{
			{"re-cut", recut, client.ErrNotificationShape},
			{"no sign", unsigned, sign.ErrMissingSign},
			{"another key", wrongKey, sign.ErrBadSign},
			{"lookup fails, keys beside the error", paid(t, "down", merchantKey), client.ErrKeyLookup},
			{"unknown merchant, its key", paid(t, "nobody", merchantKey), sign.ErrBadSign},
		} {
			key, merchant, err := ring.VerifyNotification(ctx, tc.values, sign.MD5)
			if !errors.Is(err, tc.want) || key != "" || merchant {
				t.Errorf("%s: got (%q, %v, %v), want the error %v and no key", tc.name, key, merchant, err, tc.want)
			}
			noSecrets(t, err)
		}
	})

	t.Run("shape before keys", func(t *testing.T) {
		before := lookups
		v := paid(t, mchID, merchantKey)
		v.Del("transaction_id")
		if _, _, err := ring.VerifyNotification(ctx, v, sign.MD5); !errors.Is(err, client.ErrNotificationShape) {
			t.Fatalf("a paid notification without transaction_id: got %v, want %v", err, client.ErrNotificationShape)
		}
		if lookups != before {
			t.Errorf("keys were looked up %d times for a malformed notification, want 0", lookups-before)
		}
	})
}

// TestVerifyNotificationV1Only: the agent key of a keyring without merchant
// keys verifies, and is not a merchant key.
func TestVerifyNotificationV1Only(t *testing.T) {
	t.Parallel()
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{
		MchID: mchID, OutTradeNo: "ORDER00001", TotalFee: 100, TransactionID: "T100",
	}, agentKey, sign.MD5)
	if err != nil {
		t.Fatal(err)
	}
	ring := client.Keyring{AgentID: agentID, AgentKey: agentKey}
	key, merchant, err := ring.VerifyNotification(context.Background(), v, sign.MD5)
	if err != nil || key != agentKey || merchant {
		t.Errorf("got (%q, %v, %v), want the agent key, not a merchant's", key, merchant, err)
	}
}
