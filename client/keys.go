package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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
// map is copied, so later changes to it are not seen. A merchant not in
// the map is ErrUnknownMerchant.
//
// It panics on an empty mch_id and on a key that CheckKey refuses (for
// example an empty key from an unset environment variable): such a map
// would fail every payment of that merchant, so it is refused where it is
// built, at start-up, rather than as an error on a buyer's screen.
func StaticMerchantKeys(keys map[string]string) func(ctx context.Context, mchID string) ([]string, error) {
	m := make(map[string]string, len(keys))
	for id, k := range keys {
		if id == "" {
			panic("client: StaticMerchantKeys: empty mch_id")
		}
		if err := CheckKey(k); err != nil {
			panic(fmt.Sprintf("client: StaticMerchantKeys: merchant %q: %v", id, err))
		}
		m[id] = k
	}
	return func(_ context.Context, mchID string) ([]string, error) {
		k, ok := m[mchID]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownMerchant, mchID)
		}
		return []string{k}, nil
	}
}

// CheckKey reports a key that can never produce a sign the gateway
// accepts: an empty or whitespace-only key, or one with leading or
// trailing white space (typically the newline of a key file), which
// would fail every call with 20002. The error never contains the key.
func CheckKey(key string) error {
	switch {
	case strings.TrimSpace(key) == "":
		return errors.New("client: key is empty")
	case strings.TrimSpace(key) != key:
		return errors.New("client: key has leading or trailing white space")
	}
	return nil
}

// Validate reports a Keyring that cannot work: neither an agent key nor
// merchant keys, or an AgentID whose AgentKey CheckKey refuses (empty,
// for one). Merchant keys from StaticMerchantKeys
// were checked when it was called; keys from another MerchantKeys are
// checked on each lookup. Constructors that take a Keyring call it.
func (k Keyring) Validate() error {
	if k.AgentID == "" && k.AgentKey == "" && k.MerchantKeys == nil {
		return errors.New("client: keyring has neither an agent key nor merchant keys")
	}
	if k.AgentID != "" || k.AgentKey != "" {
		if err := CheckKey(k.AgentKey); err != nil {
			return fmt.Errorf("client: keyring AgentKey: %w", err)
		}
	}
	return nil
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
			// An unset rotation slot is dropped, never signed or
			// verified with.
			if !unusable(key) {
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
		switch {
		case errors.Is(err, ErrUnknownMerchant):
			// Whatever came with the error is not a key list to trust:
			// no merchant keys.
			mk = nil
		case err != nil:
			// Fail closed: a partial list beside an error is not verified
			// against.
			return nil, 0, fmt.Errorf("client: keys of merchant %q: %w", mchID, err)
		}
		if k.AgentKey == "" && !slices.ContainsFunc(mk, unusable) {
			// The common v2-only keyring: nothing to add or drop, so no
			// copy on the notification path.
			return mk, len(mk), nil
		}
		keys = make([]string, 0, len(mk)+1)
		for _, key := range mk {
			// An unset rotation slot ("" or blank) is a key anyone
			// knows: never a candidate.
			if !unusable(key) {
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

// unusable reports a key CheckKey refuses: empty, blank or padded. An
// empty or blank key is known to everyone, so verifying with it would let
// anyone sign; none of them is ever used.
func unusable(key string) bool { return CheckKey(key) != nil }
