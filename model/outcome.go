package model

// Outcome classifies what an order query says about a payment, following
// the decision table of docs/protocol.md section 6 (the gateway never maps code
// to trade_state itself).
type Outcome int

// Outcomes.
const (
	// OutcomeUnknown: the reply does not say (a failed request, an
	// unknown code); ask again later.
	OutcomeUnknown Outcome = iota
	// OutcomePending: not paid yet (NEED_QUERY, 10001 paying, 10003 unpaid).
	OutcomePending
	// OutcomePaid: paid (trade_state SUCCESS with code 10000).
	OutcomePaid
	// OutcomeRefunded: paid, then refunded (10002 or trade_state REFUND).
	OutcomeRefunded
	// OutcomeClosed: a final failure (10004 closed, 10005 cancelled,
	// 10006 pay error, or trade_state FAIL).
	OutcomeClosed
)

var outcomeNames = [...]string{"unknown", "pending", "paid", "refunded", "closed"}

// String names the outcome, or says "invalid" for a value out of range.
func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "invalid"
}

// Final reports whether the outcome can no longer change by waiting.
func (o Outcome) Final() bool { return o == OutcomePaid || o == OutcomeRefunded || o == OutcomeClosed }

// Outcome classifies an order query reply.
func (r *OrderQueryResponse) Outcome() Outcome {
	if r.State != StateSuccess {
		return OutcomeUnknown
	}
	switch r.Code {
	case CodePaying, CodeNotPaid:
		return OutcomePending
	case CodeRefunded:
		return OutcomeRefunded
	case CodeClosed, CodeCancelled, CodePayError:
		return OutcomeClosed
	}
	switch r.TradeState {
	case TradeNeedQuery, TradeProcessing:
		return OutcomePending
	case TradeRefund:
		return OutcomeRefunded
	case TradeFail:
		return OutcomeClosed
	case TradeSuccess:
		if r.Code == CodeSuccess || r.Code == "" {
			return OutcomePaid
		}
	}
	return OutcomeUnknown
}
