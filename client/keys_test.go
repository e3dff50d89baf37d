package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/model"
)

// TestStaticMerchantKeysRefusesUnusableKeys: a map with a key that can
// never sign (empty, as from an unset environment variable, or padded, as
// from a key file's newline) panics where it is built, and the panic does
// not show the key.
func TestStaticMerchantKeysRefusesUnusableKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, mch, key string }{
		{"empty key", mchID, ""},
		{"blank key", mchID, "   "},
		{"trailing newline", mchID, "secret-key-123\n"},
		{"leading space", mchID, " secret-key-123"},
		{"empty mch_id", "", merchantKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := func() (p any) {
				defer func() { p = recover() }()
				client.StaticMerchantKeys(map[string]string{tc.mch: tc.key})
				return nil
			}()
			if got == nil {
				t.Fatal("StaticMerchantKeys: no panic, want one")
			}
			if k := strings.TrimSpace(tc.key); k != "" && strings.Contains(fmt.Sprint(got), k) {
				t.Errorf("panic %q shows the key", got)
			}
		})
	}
}

// TestNewRefusesUnusableKeyring: client.New refuses a keyring that could
// only fail per request: an agent id with an empty or padded agent key,
// whatever the version.
func TestNewRefusesUnusableKeyring(t *testing.T) {
	t.Parallel()
	mk := client.StaticMerchantKeys(map[string]string{mchID: merchantKey})
	for _, tc := range []struct {
		name string
		cfg  client.Config
	}{
		{"v2 with an agent id and empty agent key", client.Config{Version: model.V2, Keys: client.Keyring{AgentID: agentID, MerchantKeys: mk}}},
		{"v1 with a padded agent key", client.Config{Version: model.V1, Keys: client.Keyring{AgentID: agentID, AgentKey: agentKey + "\n"}}},
		{"v1 with a blank agent key", client.Config{Version: model.V1, Keys: client.Keyring{AgentID: agentID, AgentKey: " "}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := client.New(tc.cfg); err == nil {
				t.Fatal("New: got no error, want one")
			} else if strings.Contains(err.Error(), agentKey) {
				t.Errorf("error %q shows the key", err)
			}
		})
	}
}

// TestKeysDropsUnusableLookups: keys from a custom MerchantKeys that can
// never sign are not used: a merchant left with none is ErrUnknownMerchant.
func TestKeysDropsUnusableLookups(t *testing.T) {
	t.Parallel()
	kr := client.Keyring{MerchantKeys: func(context.Context, string) ([]string, error) {
		return []string{merchantKey + "\n", ""}, nil
	}}
	if _, err := kr.Keys(context.Background(), model.V2, mchID); !errors.Is(err, client.ErrUnknownMerchant) {
		t.Fatalf("Keys: got %v, want ErrUnknownMerchant", err)
	}
}
