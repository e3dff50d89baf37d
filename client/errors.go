package client

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cypaykit/kit/model"
)

// Sentinel errors; test with errors.Is. A *GatewayError matches exactly one
// of the classes ErrNeedQuery, ErrUnknownOutcome, ErrNotFound,
// ErrBadRequest, ErrMerchantConfig and ErrGateway. Messages never carry
// keys or bodies.
var (
	// ErrUnknownMerchant: the keyring has no key for the mch_id.
	ErrUnknownMerchant = errors.New("client: unknown merchant")
	// ErrKeyLookup: Keyring.VerifyNotification could not learn the keys
	// of the notification's merchant (MerchantKeys failed with another
	// error than ErrUnknownMerchant). Keys that came with the error were
	// not tried: answer fail, so that the gateway retries later.
	ErrKeyLookup = errors.New("client: key lookup failed")
	// ErrNotificationShape: a notification's decided fields are blank,
	// missing or not strictly shaped (model.CheckNotification); its sign
	// was not checked.
	ErrNotificationShape = errors.New("client: notification is malformed")
	// ErrResponseSign: the reply carries a sign that does not verify with
	// any of the merchant's keys, or a signed reply was re-cut. The
	// request may have taken effect. The error is an *Unverified.
	ErrResponseSign = errors.New("client: response sign does not verify")
	// ErrUnsigned: a reply that is not a plain error (its state is
	// SUCCESS and its code is not 2xxxx / 3xxxx) carries no sign, whatever
	// its trade_state or code says: paid, closed, refunded, a refund's
	// status, a pre-order's code_url. Only a signed reply decides
	// (guarantee G14); there is no switch to accept an unsigned one. The
	// request may have taken effect. The error is an *Unverified.
	ErrUnsigned = errors.New("client: response is not signed")
	// ErrMismatch: a verified reply names another mch_id or out_trade_no
	// than the request. The request may have taken effect.
	ErrMismatch = errors.New("client: response does not match the request")
	// ErrNeedQuery: the pre-order answered trade_state NEED_QUERY (or code
	// 10001 paying). The order may exist: query it (WaitForPayment).
	ErrNeedQuery = errors.New("client: outcome needs a query")
	// ErrUnknownOutcome: the call timed out, failed on the network, got a
	// 5xx or an unreadable reply, or the gateway answered 30001 (network)
	// or 20006 (system error). The request may have taken effect: query
	// before retrying.
	ErrUnknownOutcome = errors.New("client: outcome unknown")
	// ErrNotFound: the gateway does not know the order (20007).
	ErrNotFound = errors.New("client: order not found")
	// ErrBadRequest: the request is wrong (20004 bad parameter, 20002 bad
	// sign) or failed model.Validate before it was sent. Retrying the same
	// request will not help.
	ErrBadRequest = errors.New("client: bad request")
	// ErrMerchantConfig: the merchant, agent or trade configuration is
	// wrong at the gateway (20005, 20012, 20013).
	ErrMerchantConfig = errors.New("client: merchant configuration error")
	// ErrStillPending: WaitForPayment timed out before a final state.
	ErrStillPending = errors.New("client: payment still pending")
	// ErrGateway: any other failure the gateway reported (state FAIL or
	// VER, trade_state FAIL, another 2xxxx code, a 4xx status).
	ErrGateway = errors.New("client: gateway error")
)

// GatewayError is a failure reported by the gateway: an HTTP status other
// than 2xx, or a reply whose state, code or trade_state says the call
// failed. Use errors.As to read the gateway's code and msg, and errors.Is
// with the class sentinels to decide what to do.
type GatewayError struct {
	// Op is the gateway method: PreOrder_WECHAT, PreOrder_ALIPAY,
	// PreOrder_ECNY (also on the v1 endpoints), orderquery, cancel,
	// refund or refundquery.
	Op string
	// HTTPStatus is the status when it was not 2xx, else zero.
	HTTPStatus int
	// State is the reply's state (SUCCESS, FAIL, VER); empty for an HTTP
	// failure.
	State model.State
	// Code is the gateway's code, e.g. 20002 (签名错误, bad sign); its
	// Meaning gives the Chinese and English text.
	Code model.Code
	// Msg is the gateway's msg, as sent.
	Msg string
	// TradeState is the reply's trade_state, when it sent one.
	TradeState model.TradeState
}

// maxMsg bounds how much of the gateway's msg goes into Error.
const maxMsg = 200

// Error formats the failure for a log: the method, the HTTP status or the
// state, code (with its meaning), trade_state and the gateway's msg cut to
// 200 bytes. It never contains keys or the request.
func (e *GatewayError) Error() string {
	var b strings.Builder
	b.WriteString("client: ")
	b.WriteString(e.Op)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, ": HTTP status %d", e.HTTPStatus)
		return b.String()
	}
	fmt.Fprintf(&b, ": state %s", e.State)
	if e.Code != "" {
		fmt.Fprintf(&b, " code %s", e.Code)
		if m, ok := e.Code.Meaning(); ok {
			fmt.Fprintf(&b, " (%s)", m.EN)
		}
	}
	if e.TradeState != "" {
		fmt.Fprintf(&b, " trade_state %s", e.TradeState)
	}
	if e.Msg != "" {
		fmt.Fprintf(&b, ": %q", truncate(e.Msg, maxMsg))
	}
	return b.String()
}

// Is reports whether target is e's class sentinel.
func (e *GatewayError) Is(target error) bool { return target == e.class() }

// class maps the reply to one sentinel, following docs/protocol.md section 6.
func (e *GatewayError) class() error {
	if e.HTTPStatus != 0 {
		if e.HTTPStatus >= 500 {
			return ErrUnknownOutcome
		}
		return ErrGateway
	}
	switch e.Code {
	case model.CodeOrderNotFound:
		return ErrNotFound
	case model.CodeBadParam, model.CodeSignError:
		return ErrBadRequest
	case model.CodeMerchantError, model.CodeAgentError, model.CodeTradeConfigError:
		return ErrMerchantConfig
	case model.CodeNetworkError, model.CodeSystemError:
		return ErrUnknownOutcome
	case model.CodePaying:
		return ErrNeedQuery
	}
	if e.TradeState == model.TradeNeedQuery {
		return ErrNeedQuery
	}
	return ErrGateway
}

// Unverified is the error of a reply whose sign is missing (Reason
// ErrUnsigned) or does not verify, or that was re-cut (Reason
// ErrResponseSign). It keeps what the reply said for logs only: nothing in
// it is proved, so nothing may be decided on it — an unsigned "closed"
// may come from a party on the network path while the buyer is paying.
// errors.Is matches Reason; Error never shows the fields.
type Unverified struct {
	// Op is the gateway method, as in GatewayError.Op.
	Op string
	// Reason is ErrUnsigned or ErrResponseSign.
	Reason error
	// Fields is the reply as received, name → text: for logs, never for
	// decisions.
	Fields map[string]string
	// err is the detail of a failed verification, if any.
	err error
}

// Error names the method, the reason and, for a log, the reply's state,
// code and trade_state (cut short). It never carries keys or the body.
func (e *Unverified) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %s", e.Reason, e.Op)
	if e.err != nil {
		fmt.Fprintf(&b, ": %v", e.err)
	}
	for _, name := range []string{"state", "code", "trade_state"} {
		if v := lookup(e.Fields, name); v != "" {
			fmt.Fprintf(&b, " %s=%q", name, truncate(v, 16))
		}
	}
	return b.String()
}

// Unwrap returns Reason and the verification detail, so that errors.Is
// matches both.
func (e *Unverified) Unwrap() []error {
	if e.err == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.err}
}

// Unverifiable reports whether err is about a reply whose sign was missing
// or did not verify (ErrUnsigned, ErrResponseSign): an unknown outcome
// that a party on the network path may have made up. The kit's handlers
// count these to raise handler.AlertUnsignedReply.
func Unverifiable(err error) bool {
	return errors.Is(err, ErrUnsigned) || errors.Is(err, ErrResponseSign)
}

// Uncertain reports whether err leaves the effect of a call unknown: the
// gateway may have created the order (or cancelled, refunded) although the
// call failed. That is ErrNeedQuery, ErrUnknownOutcome (which includes a
// context cancelled while the request was in flight), ErrResponseSign,
// ErrUnsigned and ErrMismatch. Query before retrying or giving up.
func Uncertain(err error) bool {
	for _, s := range []error{ErrNeedQuery, ErrUnknownOutcome, ErrResponseSign, ErrUnsigned, ErrMismatch} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
