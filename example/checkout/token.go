package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
)

// statusTokens mints and checks the buyer's token for an order's status
// page: an HMAC of the business order id. Nothing is stored, so any
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

// authorize is the status handler's hook: the buyer holding the order's
// ?token= is its payer; anyone else is told the order does not exist.
func (s statusTokens) authorize(r *http.Request, o *store.Order) handler.StatusAccess {
	if s.valid(o.BusinessID, r.URL.Query().Get("token")) {
		return handler.StatusPayer
	}
	return handler.StatusDenied
}

// withStatusToken adds status_token to the pre-order handler's successful
// JSON replies, for the order they name, so that the page can poll the
// status of the attempt it just made.
func (s statusTokens) withStatusToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := &bufferedReply{header: http.Header{}, status: http.StatusOK}
		h.ServeHTTP(buf, r)
		body := buf.body.Bytes()
		if buf.status < 300 {
			var view map[string]any
			if err := json.Unmarshal(body, &view); err == nil {
				if id, ok := view["order_id"].(string); ok && id != "" {
					view["status_token"] = s.mint(id)
					if b, err := json.Marshal(view); err == nil {
						body = append(b, '\n')
					}
				}
			}
		}
		for k, vs := range buf.header {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(buf.status)
		_, _ = w.Write(body)
	})
}

// bufferedReply holds a reply until it is complete.
type bufferedReply struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (b *bufferedReply) Header() http.Header { return b.header }

func (b *bufferedReply) WriteHeader(status int) {
	if !b.wrote {
		b.status, b.wrote = status, true
	}
}

func (b *bufferedReply) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
