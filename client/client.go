// Package client calls the UnifiedPay (超赢) gateway: pre-order (主扫预下单)
// on the v2 unified gateway or the legacy per-channel endpoints, order
// query, cancel, refund and refund query. It signs every request, verifies
// every signed response and maps the gateway's state / code / trade_state to
// typed results and errors.
package client

import (
	"context"
	"net/http"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// Default base URLs of the production gateway.
const (
	DefaultGatewayURL = "https://pay.storepos.cn"
	DefaultOpenURL    = "https://api.storepos.cn"
)

// Config configures a Client. Every field documents its zero value.
type Config struct {
	// GatewayURL is the gateway base; the client appends
	// /v2/UnifiedPay/Gateway (v2) or /UnifiedPay/Gateway (v1).
	// Zero means DefaultGatewayURL.
	GatewayURL string
	// OpenURL is the base of the legacy /Open/WECHAT_PreOrder and
	// /Open/ALIPAY_PreOrder endpoints used for v1 pre-orders.
	// Zero means DefaultOpenURL.
	OpenURL string
	// Version is the protocol the client speaks. Zero means model.V2.
	Version model.Version
	// Keys resolves signing keys: the agent key for v1, the merchant key
	// by mch_id for v2. Required.
	Keys Keyring
	// PID and AppVersion are sent as pid and version (the caller's product
	// name and version, required by the gateway). Zero means "cypaykit"
	// and "1.0".
	PID, AppVersion string
	// Algorithm signs requests and verifies responses. Zero means MD5.
	Algorithm sign.Algorithm
	// HTTPClient sends the requests. Zero means a client with a 15 s
	// timeout (the gateway maintainer's own tool uses 15 s).
	HTTPClient *http.Client
	// AllowUnsignedSuccess accepts a successful reply (state and
	// trade_state SUCCESS) that carries no sign. The gateway's tables say
	// such replies are signed and its examples show them unsigned; zero
	// (false) is strict and rejects them with ErrUnsigned.
	AllowUnsignedSuccess bool
	// Clock and Sleep drive WaitForPayment. Zero means time.Now and a
	// context-aware real sleep; tests inject fakes so nothing sleeps.
	Clock func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Nonce returns nonce_str values. Zero means 32 random hex chars.
	Nonce func() string
}

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

// StaticMerchantKeys is a MerchantKeys over a fixed map mch_id → key.
func StaticMerchantKeys(keys map[string]string) func(ctx context.Context, mchID string) ([]string, error) {
	panic("unimplemented")
}

// Keys returns the keys for a merchant's traffic under version v: the
// agent key for V1, the merchant's keys for V2. An unknown merchant is
// ErrUnknownMerchant.
func (k Keyring) Keys(ctx context.Context, v model.Version, mchID string) ([]string, error) {
	panic("unimplemented")
}

// Client calls the gateway. It is safe for concurrent use.
type Client struct{}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) { panic("unimplemented") }

// Version returns the protocol version the client speaks; orders created
// through it are verified with that version's key.
func (c *Client) Version() model.Version { panic("unimplemented") }

// Algorithm returns the configured signing algorithm.
func (c *Client) Algorithm() sign.Algorithm { panic("unimplemented") }

// Keyring returns the configured keys.
func (c *Client) Keyring() Keyring { panic("unimplemented") }

// PreOrder creates a pre-order. On v2 it posts method=PreOrder_<channel> to
// the v2 gateway; on v1 it posts WECHAT / ALIPAY to /Open/<channel>_PreOrder
// and ECNY to the v1 gateway. A reply with trade_state NEED_QUERY, a
// timeout or a network error returns an error that errors.Is ErrNeedQuery
// or ErrUnknownOutcome: the order may exist, so query it.
func (c *Client) PreOrder(ctx context.Context, req *model.PreOrderRequest) (*model.PreOrderResponse, error) {
	panic("unimplemented")
}

// OrderQuery queries an order. The response's Outcome method classifies it.
func (c *Client) OrderQuery(ctx context.Context, req *model.OrderQueryRequest) (*model.OrderQueryResponse, error) {
	panic("unimplemented")
}

// Cancel cancels (closes or reverses) an order within its 5-minute window.
func (c *Client) Cancel(ctx context.Context, req *model.CancelRequest) (*model.CancelResponse, error) {
	panic("unimplemented")
}

// Refund requests a refund.
func (c *Client) Refund(ctx context.Context, req *model.RefundRequest) (*model.RefundResponse, error) {
	panic("unimplemented")
}

// RefundQuery queries refunds.
func (c *Client) RefundQuery(ctx context.Context, req *model.RefundQueryRequest) (*model.RefundQueryResponse, error) {
	panic("unimplemented")
}

// WaitForPayment applies the gateway's rule for unknown outcomes: wait 5 s,
// query, and query again every 5 s until the order reaches a final state
// (paid, closed, cancelled, refunded, failed) or the timeout passes
// (DefaultWaitTimeout when zero; 60–180 s allowed). It returns the last
// query response; on timeout it is ErrStillPending.
func (c *Client) WaitForPayment(ctx context.Context, req *model.OrderQueryRequest, timeout time.Duration) (*model.OrderQueryResponse, error) {
	panic("unimplemented")
}
