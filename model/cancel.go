package model

// CancelRequest is method=cancel (交易撤销): it closes an unpaid order and
// reverses a paid one, within 5 minutes of creation only.
type CancelRequest struct {
	PayType    PayType `schema:"paytype" validate:"required,paytype"`
	MchID      string  `schema:"mch_id" validate:"required"`
	OutTradeNo string  `schema:"out_trade_no" validate:"required,cancel_trade_no"`
	// OpUserID is required by the current documents; the client defaults
	// it to MchID.
	OpUserID string `schema:"op_user_id,omitempty"`
}

// CancelResponse is the cancel reply.
type CancelResponse struct {
	Envelope
	MchID      string  `schema:"mch_id,omitempty" json:"mch_id,omitempty"`
	OutTradeNo string  `schema:"out_trade_no,omitempty" json:"out_trade_no,omitempty"`
	PayType    PayType `schema:"paytype,omitempty" json:"paytype,omitempty"`
	NonceStr   string  `schema:"nonce_str,omitempty" json:"nonce_str,omitempty"`
	WxMchID    string  `schema:"wx_mch_id,omitempty" json:"wx_mch_id,omitempty"`
	WxSubMchID string  `schema:"wx_sub_mch_id,omitempty" json:"wx_sub_mch_id,omitempty"`
}
