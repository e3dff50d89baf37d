package kitprom

import (
	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
)

// The label values are closed sets: anything outside them (a newer kit's
// outcome, a host's own source) is reported as "other", so no value can
// grow the number of series.
const other = "other"

var outcomes = []handler.Outcome{
	handler.Settled, handler.Duplicate, handler.BadSign, handler.Malformed,
	handler.UnknownOrder, handler.Mismatch, handler.NotPaid, handler.StoreError,
	handler.HookError, handler.Timeout, handler.ConfigError, handler.Closed,
}

var alertKinds = []handler.AlertKind{
	handler.AlertAmountMismatch, handler.AlertMchMismatch, handler.AlertPaidAfterClose,
	handler.AlertTransactionConflict, handler.AlertRefundedUnsettled, handler.AlertDoublePayment,
}

var (
	alertLabels = func() map[string]bool {
		m := make(map[string]bool, len(alertKinds))
		for _, k := range alertKinds {
			m[string(k)] = true
		}
		return m
	}()
	sourceLabels = set(handler.SourceNotify, handler.SourceQuery, handler.SourceRetry)
	opLabels     = set(client.OpPreOrder, client.OpOrderQuery, client.OpCancel, client.OpRefund, client.OpRefundQuery)
	resultLabels = set(client.ResultOK, client.ResultNeedQuery, client.ResultUnknownOutcome, client.ResultNotFound,
		client.ResultBadRequest, client.ResultMerchantConfig, client.ResultResponseSign, client.ResultUnsigned,
		client.ResultMismatch, client.ResultUnknownMerchant, client.ResultGateway, client.ResultCanceled, client.ResultError)
	outcomeByValue = func() map[handler.Outcome]string {
		m := make(map[handler.Outcome]string, len(outcomes))
		for _, o := range outcomes {
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
	return other
}

func outcomeLabel(o handler.Outcome) string {
	if s, ok := outcomeByValue[o]; ok {
		return s
	}
	return other
}

func alertLabel(k handler.AlertKind) string { return closed(alertLabels, string(k)) }
func sourceLabel(s string) string           { return closed(sourceLabels, s) }
func opLabel(s string) string               { return closed(opLabels, s) }
func resultLabel(s string) string           { return closed(resultLabels, s) }
