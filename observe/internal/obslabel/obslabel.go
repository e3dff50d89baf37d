// Package obslabel turns the kit's hook values into metric label values
// from closed sets, for observe/kitprom and observe/kitotel alike.
package obslabel

import (
	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/refund"
)

// The label values are closed sets: anything outside them (a newer kit's
// outcome, a host's own source) is reported as "other", so no value can
// grow the number of series.
const Other = "other"

// Outcomes lists every Outcome a label may name.
var Outcomes = []handler.Outcome{
	handler.Settled, handler.Duplicate, handler.BadSign, handler.Malformed,
	handler.UnknownOrder, handler.Mismatch, handler.NotPaid, handler.StoreError,
	handler.HookError, handler.Timeout, handler.ConfigError, handler.Closed,
}

// AlertKinds lists every AlertKind a label may name.
var AlertKinds = []handler.AlertKind{
	handler.AlertAmountMismatch, handler.AlertMchMismatch, handler.AlertPaidAfterClose,
	handler.AlertTransactionConflict, handler.AlertRefundedUnsettled, handler.AlertDoublePayment,
	handler.AlertRefundChange, handler.AlertPaidAfterAbandon,
}

var (
	alertLabels = func() map[string]bool {
		m := make(map[string]bool, len(AlertKinds))
		for _, k := range AlertKinds {
			m[string(k)] = true
		}
		return m
	}()
	refundLabels = func() map[string]bool {
		results := refund.Results()
		m := make(map[string]bool, len(results))
		for _, r := range results {
			m[string(r)] = true
		}
		return m
	}()
	sourceLabels = set(string(handler.SourceNotify), string(handler.SourceQuery), string(handler.SourceRetry), string(handler.SourceHistory))
	opLabels     = set(client.OpPreOrder, client.OpOrderQuery, client.OpCancel, client.OpRefund, client.OpRefundQuery)
	resultLabels = set(client.ResultOK, client.ResultNeedQuery, client.ResultUnknownOutcome, client.ResultNotFound,
		client.ResultBadRequest, client.ResultMerchantConfig, client.ResultResponseSign, client.ResultUnsigned,
		client.ResultMismatch, client.ResultUnknownMerchant, client.ResultGateway, client.ResultCanceled, client.ResultError)
	outcomeByValue = func() map[handler.Outcome]string {
		m := make(map[handler.Outcome]string, len(Outcomes))
		for _, o := range Outcomes {
			m[o] = o.String()
		}
		return m
	}()
)

func set(values ...string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

func closed(m map[string]bool, v string) string {
	if m[v] {
		return v
	}
	return Other
}

// Outcome is o's name, or Other.
func Outcome(o handler.Outcome) string {
	if s, ok := outcomeByValue[o]; ok {
		return s
	}
	return Other
}

// AlertKind is k, or Other.
func AlertKind(k handler.AlertKind) string { return closed(alertLabels, string(k)) }

// Source is an Event's source, or Other.
func Source(s handler.Source) string { return closed(sourceLabels, string(s)) }

// Op is a client.CallEvent's Op, or Other.
func Op(s string) string { return closed(opLabels, s) }

// Result is a client.CallEvent's Result, or Other.
func Result(s string) string { return closed(resultLabels, s) }

// RefundResult is a refund.Event's Result, or Other.
func RefundResult(r refund.Result) string { return closed(refundLabels, string(r)) }
