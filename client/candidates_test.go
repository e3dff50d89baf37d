package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/client"
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
