package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/model"
)

// TestCandidates: the keys a notification naming mchID may be signed
// with, merchant keys first, and how many of them are the merchant's.
func TestCandidates(t *testing.T) {
	t.Parallel()
	errDown := errors.New("key store down")
	rotating := func(_ context.Context, id string) ([]string, error) {
		switch id {
		case mchID:
			return []string{merchantKey, "", oldMchKey}, nil
		case "down":
			return nil, errDown
		}
		return nil, client.ErrUnknownMerchant
	}
	tests := []struct {
		name         string
		ring         client.Keyring
		mchID        string
		want         []string
		wantMerchant int
		wantErr      error
	}{
		{"v1 and v2", client.Keyring{AgentKey: agentKey, MerchantKeys: rotating}, mchID, []string{merchantKey, oldMchKey, agentKey}, 2, nil},
		{"v2 only", client.Keyring{MerchantKeys: rotating}, mchID, []string{merchantKey, oldMchKey}, 2, nil},
		{"v1 only", client.Keyring{AgentKey: agentKey}, mchID, []string{agentKey}, 0, nil},
		{"no mch_id", client.Keyring{AgentKey: agentKey, MerchantKeys: rotating}, "", []string{agentKey}, 0, nil},
		{"unknown merchant", client.Keyring{AgentKey: agentKey, MerchantKeys: rotating}, "nobody", []string{agentKey}, 0, nil},
		{"unknown merchant, v2 only", client.Keyring{MerchantKeys: rotating}, "nobody", nil, 0, nil},
		{"lookup fails", client.Keyring{AgentKey: agentKey, MerchantKeys: rotating}, "down", nil, 0, errDown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, merchant, err := tc.ring.Candidates(context.Background(), tc.mchID)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err: got %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || merchant != tc.wantMerchant {
				t.Errorf("got %d merchant keys of (-want +got):\n%s", merchant, diff)
			}
			noSecrets(t, err)
		})
	}
}

// TestCandidatesNeverBlankKeys: an unset rotation slot ("" or blank) beside
// a real key is never a candidate, in any keyring shape: a sign made with
// a key everyone knows must not verify.
func TestCandidatesNeverBlankKeys(t *testing.T) {
	t.Parallel()
	for _, slots := range [][]string{{"", merchantKey}, {merchantKey, ""}, {"  ", merchantKey}, {merchantKey, "\t"}} {
		mk := func(context.Context, string) ([]string, error) { return slots, nil }
		for _, ring := range []client.Keyring{{MerchantKeys: mk}, {AgentKey: agentKey, MerchantKeys: mk}} {
			keys, merchant, err := ring.Candidates(context.Background(), mchID)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if client.CheckKey(k) != nil {
					t.Errorf("slots %q, agent key %v: candidates hold a blank key", slots, ring.AgentKey != "")
				}
			}
			if merchant != 1 || keys[0] != merchantKey {
				t.Errorf("slots %q: got %d merchant keys, want the one real key", slots, merchant)
			}
			if got, err := ring.Keys(context.Background(), model.V2, mchID); err != nil || len(got) != 1 || got[0] != merchantKey {
				t.Errorf("slots %q: Keys gave %d keys, %v; want the one real key", slots, len(got), err)
			}
		}
	}
}

// TestKeyLookupErrorFailsClosed: a key lookup that returns keys and an
// error is not verified against at all — not the partial list, for a
// reply nor for a notification — and neither is a list that came with
// ErrUnknownMerchant.
func TestKeyLookupErrorFailsClosed(t *testing.T) {
	t.Parallel()
	errDown := errors.New("key store half down")
	partial := func(context.Context, string) ([]string, error) { return []string{merchantKey}, errDown }
	unknown := func(context.Context, string) ([]string, error) {
		return []string{merchantKey}, client.ErrUnknownMerchant
	}
	ring := client.Keyring{MerchantKeys: partial}
	if keys, _, err := ring.Candidates(context.Background(), mchID); !errors.Is(err, errDown) || len(keys) != 0 {
		t.Errorf("Candidates: got %d keys, %v; want none and the error", len(keys), err)
	}
	if keys, err := ring.Keys(context.Background(), model.V2, mchID); !errors.Is(err, errDown) || len(keys) != 0 {
		t.Errorf("Keys: got %d keys, %v; want none and the error", len(keys), err)
	}
	ring = client.Keyring{MerchantKeys: unknown}
	if keys, merchant, err := ring.Candidates(context.Background(), mchID); err != nil || len(keys) != 0 || merchant != 0 {
		t.Errorf("Candidates of an unknown merchant: got %d keys, %v; want none", len(keys), err)
	}
	if keys, err := ring.Keys(context.Background(), model.V2, mchID); !errors.Is(err, client.ErrUnknownMerchant) || len(keys) != 0 {
		t.Errorf("Keys of an unknown merchant: got %d keys, %v; want none and ErrUnknownMerchant", len(keys), err)
	}
	// End to end: a reply signed with the key the partial list holds is
	// still not accepted, because the call never runs.
	gw := newFake(t, okReply(t))
	c := newClient(t, model.V2, gw.srv.URL, func(cfg *client.Config) { cfg.Keys.MerchantKeys = partial })
	if _, err := c.OrderQuery(context.Background(), queryReq()); !errors.Is(err, errDown) {
		t.Errorf("OrderQuery: got %v, want the lookup error", err)
	}
	if n := len(gw.requests()); n != 0 {
		t.Errorf("gateway saw %d requests, want 0", n)
	}
}
