package model

// Envelope is the common part of every gateway JSON response. Business
// fields are only present when State and TradeState are both SUCCESS.
type Envelope struct {
	// State is the exchange status (state): SUCCESS, FAIL or VER.
	State State `schema:"state" json:"state"`
	// Code is the status code (code), e.g. 10000 success or 20002 bad
	// sign; Code.Meaning explains it.
	Code Code `schema:"code,omitempty" json:"code,omitempty"`
	// Msg is the gateway's message (msg), often Chinese, as sent.
	Msg string `schema:"msg,omitempty" json:"msg,omitempty"`
	// TradeState is the trade status (trade_state): SUCCESS, FAIL,
	// NEED_QUERY or REFUND; see docs/protocol.md section 6.
	TradeState TradeState `schema:"trade_state,omitempty" json:"trade_state,omitempty"`
	// Sign is the message's signature (sign), upper-case hex; see package
	// sign.
	Sign string `schema:"sign,omitempty" json:"sign,omitempty"`
}
