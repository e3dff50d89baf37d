package client

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cypaykit/kit/model"
)

// Keyring resolves the key that signs a merchant's traffic.
type Keyring struct {
	// AgentID is sent as agent_id on v1. Required for v1.
	AgentID string
	// AgentKey (代理商密钥) signs all v1 traffic. Required for v1.
	AgentKey string
	// MerchantKeys returns a v2 merchant's keys (商户密钥): the first signs,
	// all verify (so a merchant can rotate keys). Required for v2.
	MerchantKeys func(ctx context.Context, mchID string) ([]string, error)
}

// StaticMerchantKeys is a MerchantKeys over a fixed map mch_id → key. The
// map is copied, so later changes to it are not seen. An unknown merchant
// or an empty key is ErrUnknownMerchant.
func StaticMerchantKeys(keys map[string]string) func(ctx context.Context, mchID string) ([]string, error) {
	m := make(map[string]string, len(keys))
	for id, k := range keys {
		if k != "" {
			m[id] = k
		}
	}
	return func(_ context.Context, mchID string) ([]string, error) {
		k, ok := m[mchID]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownMerchant, mchID)
		}
		return []string{k}, nil
	}
}

// Keys returns the keys for a merchant's traffic under version v: the
// agent key for V1, the merchant's keys for V2. An unknown merchant is
// ErrUnknownMerchant. The first key signs, all of them verify; the slice
// is the caller's to keep.
func (k Keyring) Keys(ctx context.Context, v model.Version, mchID string) ([]string, error) {
	switch v {
	case model.V1:
		if k.AgentKey == "" {
			return nil, errors.New("client: keyring has no agent key for v1")
		}
		return []string{k.AgentKey}, nil
	case model.V2:
		if k.MerchantKeys == nil {
			return nil, errors.New("client: keyring has no merchant keys for v2")
		}
		keys, err := k.MerchantKeys(ctx, mchID)
		if errors.Is(err, ErrUnknownMerchant) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("client: keys of merchant %q: %w", mchID, err)
		}
		out := make([]string, 0, len(keys))
		for _, key := range keys {
			if key != "" {
				out = append(out, key)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: %q has no key", ErrUnknownMerchant, mchID)
		}
		return out, nil
	}
	return nil, fmt.Errorf("client: unknown protocol version %q", string(v))
}

// Candidates returns every key that may have signed a message naming
// mchID, before any order is read: the merchant's keys (v2) first, then
// the agent key (v1), and how many of them are the merchant's, so that a
// key index from sign.VerifyIndex tells the version that signed. An
// unknown or empty mchID, or a keyring without merchant keys, gives no
// merchant keys; other errors of MerchantKeys are returned. mchID comes
// from the unverified message, so MerchantKeys must answer only for
// merchants the host knows.
func (k Keyring) Candidates(ctx context.Context, mchID string) (keys []string, merchant int, err error) {
	if mchID != "" && k.MerchantKeys != nil {
		mk, err := k.MerchantKeys(ctx, mchID)
		if err != nil && !errors.Is(err, ErrUnknownMerchant) {
			return nil, 0, fmt.Errorf("client: keys of merchant %q: %w", mchID, err)
		}
		if k.AgentKey == "" && !slices.Contains(mk, "") {
			// The common v2-only keyring: nothing to add or drop, so no
			// copy on the notification path.
			return mk, len(mk), nil
		}
		keys = make([]string, 0, len(mk)+1)
		for _, key := range mk {
			if key != "" {
				keys = append(keys, key)
			}
		}
	}
	merchant = len(keys)
	if k.AgentKey != "" {
		keys = append(keys, k.AgentKey)
	}
	return keys, merchant, nil
}
