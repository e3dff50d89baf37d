package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
)

// statusTokens mints and checks the buyer's token for an order: an HMAC
// of the business order id, handed out once, by POST /api/orders, and
// asked for by the pre-order and status routes. Nothing is stored, so any
// instance that has the same key verifies a token another one minted.
type statusTokens struct {
	key []byte
}

// newStatusTokens keys the tokens with secret (-status-secret) when set,
// else with a key derived from the signing key the configuration already
// shares between instances (the merchant key for v2, the agent key for
// v1). The derivation is one-way: a token reveals nothing of the key.
func newStatusTokens(cfg config) statusTokens {
	secret := cfg.StatusSecret
	if secret == "" {
		secret = cfg.MchKey
		if cfg.Version == "v1" {
			secret = cfg.AgentKey
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("cypaykit example: status token key"))
	return statusTokens{key: mac.Sum(nil)}
}

// mint returns the token for business order orderID.
func (s statusTokens) mint(orderID string) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(orderID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

// valid reports, in constant time, whether token belongs to orderID.
func (s statusTokens) valid(orderID, token string) bool {
	return hmac.Equal([]byte(s.mint(orderID)), []byte(token))
}

// authorizePayment is the pre-order handler's hook: only the buyer
// holding the order's ?token= may start its payments. Anyone else is
// refused (403) before anything is recorded or sent, so an order id that
// leaks or is guessed lets no one fill the order with attempts or take a
// buyer's checkout.
func (s statusTokens) authorizePayment(r *http.Request, orderID string) bool {
	return s.valid(orderID, r.URL.Query().Get("token"))
}

// authorize is the status handler's hook: the buyer holding the order's
// ?token= is its payer; anyone else is told the order does not exist.
func (s statusTokens) authorize(r *http.Request, o *store.Order) handler.StatusAccess {
	if s.valid(o.BusinessID, r.URL.Query().Get("token")) {
		return handler.StatusPayer
	}
	return handler.StatusDenied
}
