package client

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Operations a CallEvent reports. The set is closed (the pre-order's
// channel is not part of it), so an Op is safe as a metric label.
const (
	OpPreOrder    = "preorder"
	OpOrderQuery  = "orderquery"
	OpCancel      = "cancel"
	OpRefund      = "refund"
	OpRefundQuery = "refundquery"
)

// Results a CallEvent reports; see CallResult.
const (
	ResultOK              = "ok"
	ResultNeedQuery       = "need_query"
	ResultUnknownOutcome  = "unknown_outcome"
	ResultNotFound        = "not_found"
	ResultBadRequest      = "bad_request"
	ResultMerchantConfig  = "merchant_config"
	ResultResponseSign    = "response_sign"
	ResultUnsigned        = "unsigned"
	ResultMismatch        = "mismatch"
	ResultUnknownMerchant = "unknown_merchant"
	ResultGateway         = "gateway_error"
	ResultCanceled        = "canceled"
	ResultError           = "error"
)

// CallEvent reports one finished call of PreOrder, OrderQuery, Cancel,
// Refund or RefundQuery to Config.Observe. It carries no order numbers.
type CallEvent struct {
	// Op is one of the Op constants.
	Op string
	// Result is CallResult(Err).
	Result string
	// Duration is the wall time of the call, signing and verifying
	// included.
	Duration time.Duration
	// Err is what the call returned.
	Err error
}

// resultClasses maps the package's sentinels to results, most specific
// first: a *GatewayError matches exactly one class, and the reply checks
// (sign, unsigned, mismatch) are distinct errors.
var resultClasses = []struct {
	err    error
	result string
}{
	{ErrNeedQuery, ResultNeedQuery},
	{ErrNotFound, ResultNotFound},
	{ErrResponseSign, ResultResponseSign},
	{ErrUnsigned, ResultUnsigned},
	{ErrMismatch, ResultMismatch},
	{ErrUnknownOutcome, ResultUnknownOutcome},
	{ErrBadRequest, ResultBadRequest},
	{ErrMerchantConfig, ResultMerchantConfig},
	{ErrUnknownMerchant, ResultUnknownMerchant},
	{ErrGateway, ResultGateway},
}

// CallResult classifies a call's error into one of the Result constants:
// ResultOK for nil, the class of a sentinel it wraps, ResultCanceled for a
// context that ended before anything was sent, else ResultError. The set
// is closed, so the result is safe as a metric label.
func CallResult(err error) string {
	if err == nil {
		return ResultOK
	}
	for _, c := range resultClasses {
		if errors.Is(err, c.err) {
			return c.result
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ResultCanceled
	}
	return ResultError
}

// observeCall reports a finished call; deferred by the public methods
// only when Config.Observe is set.
func (c *Client) observeCall(op string, start time.Time, err *error) {
	c.observe(CallEvent{Op: op, Result: CallResult(*err), Duration: time.Since(start), Err: *err})
}

type opKey struct{}

// withOp tags the context of a gateway request with its Op.
func withOp(ctx context.Context, gatewayMethod string) context.Context {
	op := gatewayMethod
	if strings.HasPrefix(op, methodPreOrder) {
		op = OpPreOrder
	}
	return context.WithValue(ctx, opKey{}, op)
}

// CallOp returns the Op of the gateway call whose HTTP request carries
// ctx, or "" for any other request. An instrumented http.RoundTripper in
// Config.HTTPClient (such as observe/kitotel's) names its spans with it.
func CallOp(ctx context.Context) string {
	op, _ := ctx.Value(opKey{}).(string)
	return op
}
