// Package client calls the UnifiedPay (超赢) gateway: pre-order (主扫预下单)
// on the v2 unified gateway or the legacy per-channel endpoints, order
// query, cancel, refund and refund query. It signs every request, insists
// that every reply which is not a plain error carries a sign that verifies
// (guarantee G14: only a signed reply decides), and maps the gateway's
// state / code / trade_state to typed results and errors.
package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	// Clock and Sleep drive WaitForPayment. Zero means time.Now and a
	// context-aware real sleep; tests inject fakes so nothing sleeps.
	Clock func() time.Time
	// Sleep waits d or until ctx ends, whichever is first; see Clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Nonce returns nonce_str values. Zero means 32 random hex chars.
	Nonce func() string
	// Observe receives one CallEvent per finished PreOrder, OrderQuery,
	// Cancel, Refund or RefundQuery call, for counting and timing. It must
	// be fast and safe for concurrent use. Nil means none, at no cost.
	// (For spans, give HTTPClient an instrumented transport: see CallOp.)
	Observe func(CallEvent)
}

// Endpoint paths under GatewayURL and OpenURL.
const (
	pathV2Gateway = "/v2/UnifiedPay/Gateway"
	pathV1Gateway = "/UnifiedPay/Gateway"
	pathOpen      = "/Open/%s_PreOrder"
)

// Gateway methods, sent as method (and used as GatewayError.Op).
const (
	methodOrderQuery  = "orderquery"
	methodCancel      = "cancel"
	methodRefund      = "refund"
	methodRefundQuery = "refundquery"
	methodPreOrder    = "PreOrder_"
)

// defaultHTTPTimeout is the timeout of the gateway maintainer's own tool.
const defaultHTTPTimeout = 15 * time.Second

// Client calls the gateway. It is safe for concurrent use.
type Client struct {
	gatewayURL, openURL string
	version             model.Version
	keys                Keyring
	pid, appVersion     string
	alg                 sign.Algorithm
	http                *http.Client
	clock               func() time.Time
	sleep               func(ctx context.Context, d time.Duration) error
	nonce               func() string
	observe             func(CallEvent)
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	c := &Client{
		version:    cfg.Version,
		keys:       cfg.Keys,
		pid:        cfg.PID,
		appVersion: cfg.AppVersion,
		http:       cfg.HTTPClient,
		clock:      cfg.Clock,
		sleep:      cfg.Sleep,
		nonce:      cfg.Nonce,
		observe:    cfg.Observe,
	}
	var err error
	if c.gatewayURL, err = baseURL("GatewayURL", cfg.GatewayURL, DefaultGatewayURL); err != nil {
		return nil, err
	}
	if c.openURL, err = baseURL("OpenURL", cfg.OpenURL, DefaultOpenURL); err != nil {
		return nil, err
	}
	if c.version == "" {
		c.version = model.V2
	}
	if err := cfg.Keys.Validate(); err != nil {
		return nil, err
	}
	switch c.version {
	case model.V1:
		if cfg.Keys.AgentID == "" || cfg.Keys.AgentKey == "" {
			return nil, errors.New("client: v1 needs Keys.AgentID and Keys.AgentKey")
		}
	case model.V2:
		if cfg.Keys.MerchantKeys == nil {
			return nil, errors.New("client: v2 needs Keys.MerchantKeys")
		}
	default:
		return nil, fmt.Errorf("client: unknown protocol version %q", string(c.version))
	}
	if c.alg, err = sign.ParseAlgorithm(string(cfg.Algorithm)); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if c.pid == "" {
		c.pid = "cypaykit"
	}
	if c.appVersion == "" {
		c.appVersion = "1.0"
	}
	// The gateway trims values before it verifies: padded values would
	// fail its sign check.
	for name, v := range map[string]string{"PID": c.pid, "AppVersion": c.appVersion, "Keys.AgentID": cfg.Keys.AgentID} {
		if strings.TrimSpace(v) != v {
			return nil, fmt.Errorf("client: %s has leading or trailing spaces", name)
		}
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepContext
	}
	if c.nonce == nil {
		c.nonce = randomNonce
	}
	return c, nil
}

// baseURL checks an absolute http(s) URL without query or fragment and
// drops a trailing slash.
func baseURL(field, s, def string) (string, error) {
	if s == "" {
		s = def
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("client: %s: %w", field, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("client: %s %q is not an absolute http(s) URL", field, s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("client: %s must not carry user info, a query or a fragment", field)
	}
	return strings.TrimRight(s, "/"), nil
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func randomNonce() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a nonce is
		// optional for the gateway, so fall back to the clock.
		return strconv.FormatInt(time.Now().UnixNano(), 16)
	}
	return hex.EncodeToString(b[:])
}

// Version returns the protocol version the client speaks; orders created
// through it are verified with that version's key.
func (c *Client) Version() model.Version { return c.version }

// Algorithm returns the configured signing algorithm.
func (c *Client) Algorithm() sign.Algorithm { return c.alg }

// Keyring returns the configured keys.
func (c *Client) Keyring() Keyring { return c.keys }

// PreOrder creates a pre-order. On v2 it posts method=PreOrder_<channel> to
// the v2 gateway; on v1 it posts WECHAT / ALIPAY to /Open/<channel>_PreOrder
// and ECNY to the v1 gateway. A reply with trade_state NEED_QUERY, a
// timeout or a network error returns an error that errors.Is ErrNeedQuery
// or ErrUnknownOutcome: the order may exist, so query it. With
// ErrNeedQuery the decoded reply is returned too.
func (c *Client) PreOrder(ctx context.Context, req *model.PreOrderRequest) (_ *model.PreOrderResponse, err error) {
	if c.observe != nil {
		defer c.observeCall(OpPreOrder, time.Now(), &err)
	}
	if req == nil {
		return nil, fmt.Errorf("%w: nil pre-order request", ErrBadRequest)
	}
	method := methodPreOrder + string(req.Channel)
	ep := endpoint{op: method, url: c.gatewayURL + pathV2Gateway, method: method}
	if c.version == model.V1 {
		ep.url = c.gatewayURL + pathV1Gateway
		if req.Channel == model.PayWeChat || req.Channel == model.PayAlipay {
			ep.url = c.openURL + fmt.Sprintf(pathOpen, req.Channel)
			ep.method = ""
		}
		// The legacy Alipay pre-order documents no profit sharing: the
		// split would be dropped, or the request refused, at the gateway.
		if req.Channel == model.PayAlipay && (req.ProfitSharing != "" || req.ProfitSharingReceiver != "") {
			return nil, fmt.Errorf("%w: %s: profit_sharing and profit_sharing_receiver are not fields of the legacy Alipay pre-order", ErrBadRequest, method)
		}
	}
	resp := new(model.PreOrderResponse)
	if err := c.call(ctx, ep, req, req.MchID, resp); err != nil {
		return nil, err
	}
	if err := checkMatch(req.MchID, req.OutTradeNo, resp.MchID, resp.OutTradeNo); err != nil {
		return nil, fmt.Errorf("client: %s: %w", method, err)
	}
	switch {
	case resp.State == model.StateSuccess && resp.TradeState == model.TradeSuccess &&
		(resp.Code == model.CodeSuccess || resp.Code == ""):
		return resp, nil
	case resp.State == model.StateSuccess && (resp.TradeState == model.TradeNeedQuery || resp.Code == model.CodePaying):
		return resp, gatewayError(method, &resp.Envelope)
	}
	return nil, gatewayError(method, &resp.Envelope)
}

// OrderQuery queries an order. The response's Outcome method classifies it:
// a reply with state SUCCESS is returned without error whatever its code
// (10003 not paid, 10004 closed, ...); only a failed request (state FAIL,
// a 2xxxx or 30001 code) is an error, ErrNotFound for an unknown order.
// A reply that says paid but lacks mch_id, out_trade_no, transaction_id or
// an amount is ErrMismatch, and a signed reply whose decided fields are
// blank or not strictly shaped (model.CheckReply) is ErrResponseSign. As
// for every call, a reply that is not a plain error must carry a sign that
// verifies (ErrUnsigned, ErrResponseSign): an unsigned "closed" or
// "refunded" decides nothing.
func (c *Client) OrderQuery(ctx context.Context, req *model.OrderQueryRequest) (_ *model.OrderQueryResponse, err error) {
	if c.observe != nil {
		defer c.observeCall(OpOrderQuery, time.Now(), &err)
	}
	if req == nil {
		return nil, fmt.Errorf("%w: nil order query request", ErrBadRequest)
	}
	resp := new(model.OrderQueryResponse)
	if err := c.call(ctx, c.gatewayEndpoint(methodOrderQuery), req, req.MchID, resp); err != nil {
		return nil, err
	}
	if resp.State != model.StateSuccess || failedCode(resp.Code) {
		return nil, gatewayError(methodOrderQuery, &resp.Envelope)
	}
	if err := checkMatch(req.MchID, req.OutTradeNo, resp.MchID, resp.OutTradeNo); err != nil {
		return nil, fmt.Errorf("client: %s: %w", methodOrderQuery, err)
	}
	if resp.Outcome() == model.OutcomePaid {
		// A payment is only ever acted on with the facts that tie it to
		// this merchant and order; a reply that lacks one was cut or is
		// not the gateway's.
		if resp.MchID == "" || resp.OutTradeNo == "" || resp.TransactionID == "" || (resp.BaseFee == 0 && resp.TotalFee == 0) {
			return nil, fmt.Errorf("%w: %s: a paid reply lacks mch_id, out_trade_no, transaction_id or its amount",
				ErrMismatch, methodOrderQuery)
		}
	}
	return resp, nil
}

// Cancel cancels (closes or reverses) an order within its 5-minute window.
// OpUserID defaults to MchID; req is not modified.
func (c *Client) Cancel(ctx context.Context, req *model.CancelRequest) (_ *model.CancelResponse, err error) {
	if c.observe != nil {
		defer c.observeCall(OpCancel, time.Now(), &err)
	}
	if req == nil {
		return nil, fmt.Errorf("%w: nil cancel request", ErrBadRequest)
	}
	r := *req
	if r.OpUserID == "" {
		r.OpUserID = r.MchID
	}
	resp := new(model.CancelResponse)
	if err := c.call(ctx, c.gatewayEndpoint(methodCancel), &r, r.MchID, resp); err != nil {
		return nil, err
	}
	if err := businessResult(methodCancel, &resp.Envelope); err != nil {
		return nil, err
	}
	if err := checkMatch(r.MchID, r.OutTradeNo, resp.MchID, resp.OutTradeNo); err != nil {
		return nil, fmt.Errorf("client: %s: %w", methodCancel, err)
	}
	return resp, nil
}

// Refund requests a refund. OpUserID defaults to MchID; req is not
// modified. On an uncertain error (see Uncertain) call RefundQuery with the
// same OutRefundNo before issuing a new refund.
func (c *Client) Refund(ctx context.Context, req *model.RefundRequest) (_ *model.RefundResponse, err error) {
	if c.observe != nil {
		defer c.observeCall(OpRefund, time.Now(), &err)
	}
	if req == nil {
		return nil, fmt.Errorf("%w: nil refund request", ErrBadRequest)
	}
	r := *req
	if r.OpUserID == "" {
		r.OpUserID = r.MchID
	}
	resp := new(model.RefundResponse)
	if err := c.call(ctx, c.gatewayEndpoint(methodRefund), &r, r.MchID, resp); err != nil {
		return nil, err
	}
	if err := businessResult(methodRefund, &resp.Envelope); err != nil {
		return nil, err
	}
	if err := checkMatch(r.MchID, r.OutTradeNo, resp.MchID, resp.OutTradeNo); err != nil {
		return nil, fmt.Errorf("client: %s: %w", methodRefund, err)
	}
	return resp, nil
}

// RefundQuery queries refunds. RefundItems on the response decodes its
// refund list.
func (c *Client) RefundQuery(ctx context.Context, req *model.RefundQueryRequest) (_ *model.RefundQueryResponse, err error) {
	if c.observe != nil {
		defer c.observeCall(OpRefundQuery, time.Now(), &err)
	}
	if req == nil {
		return nil, fmt.Errorf("%w: nil refund query request", ErrBadRequest)
	}
	resp := new(model.RefundQueryResponse)
	if err := c.call(ctx, c.gatewayEndpoint(methodRefundQuery), req, req.MchID, resp); err != nil {
		return nil, err
	}
	if err := businessResult(methodRefundQuery, &resp.Envelope); err != nil {
		return nil, err
	}
	if err := checkMatch(req.MchID, "", resp.MchID, ""); err != nil {
		return nil, fmt.Errorf("client: %s: %w", methodRefundQuery, err)
	}
	return resp, nil
}

// gatewayEndpoint is the endpoint of every method but the pre-order.
func (c *Client) gatewayEndpoint(method string) endpoint {
	if c.version == model.V1 {
		return endpoint{op: method, url: c.gatewayURL + pathV1Gateway, method: method}
	}
	return endpoint{op: method, url: c.gatewayURL + pathV2Gateway, method: method}
}

// failedCode reports a code that means the request failed: 2xxxx or 3xxxx
// (docs/protocol.md section 6), whatever the state says.
func failedCode(c model.Code) bool { return len(c) == 5 && (c[0] == '2' || c[0] == '3') }

// businessResult is the verdict on a cancel, refund or refund query reply:
// state SUCCESS with no failing code and trade_state neither FAIL nor
// NEED_QUERY. Cancel may answer 10004 (closed) or 10005 (cancelled) on
// success, so 1xxxx codes pass.
func businessResult(op string, env *model.Envelope) error {
	if env.State != model.StateSuccess || failedCode(env.Code) ||
		env.TradeState == model.TradeFail || env.TradeState == model.TradeNeedQuery {
		return gatewayError(op, env)
	}
	return nil
}

func gatewayError(op string, env *model.Envelope) *GatewayError {
	return &GatewayError{Op: op, State: env.State, Code: env.Code, Msg: env.Msg, TradeState: env.TradeState}
}

// checkMatch rejects a reply about another merchant or order. v1 replies
// are all signed with the one agent key, so a signature alone does not
// tie a reply to the merchant asked about. Empty values are not compared:
// error replies carry no business fields.
func checkMatch(mchID, outTradeNo, gotMchID, gotOutTradeNo string) error {
	if gotMchID != "" && gotMchID != mchID {
		return fmt.Errorf("%w: mch_id %q, want %q", ErrMismatch, gotMchID, mchID)
	}
	if outTradeNo != "" && gotOutTradeNo != "" && gotOutTradeNo != outTradeNo {
		return fmt.Errorf("%w: out_trade_no %q, want %q", ErrMismatch, gotOutTradeNo, outTradeNo)
	}
	return nil
}
