package model

// Envelope is the common part of every gateway JSON response. Business
// fields are only present when State and TradeState are both SUCCESS.
type Envelope struct {
	State      State      `schema:"state" json:"state"`
	Code       Code       `schema:"code,omitempty" json:"code,omitempty"`
	Msg        string     `schema:"msg,omitempty" json:"msg,omitempty"`
	TradeState TradeState `schema:"trade_state,omitempty" json:"trade_state,omitempty"`
	Sign       string     `schema:"sign,omitempty" json:"sign,omitempty"`
}
