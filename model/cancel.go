package model

// CancelRequest is method=cancel (交易撤销): it closes an unpaid order and
// reverses a paid one, within 5 minutes of creation only.
type CancelRequest struct {
	// PayType is the order's channel (paytype), e.g. WECHAT.
	PayType PayType `schema:"paytype" validate:"required,paytype"`
	// MchID is the merchant the order belongs to (mch_id).
	MchID string `schema:"mch_id" validate:"required"`
	// OutTradeNo is the order to cancel (out_trade_no): 5–32 letters,
	// digits or '_'.
	OutTradeNo string `schema:"out_trade_no" validate:"required,cancel_trade_no"`
	// OpUserID is required by the current documents; the client defaults
	// it to MchID.
	OpUserID string `schema:"op_user_id,omitempty"`
}

// CancelResponse is the cancel reply.
type CancelResponse struct {
	Envelope
	// MchID is the 超赢 merchant number (mch_id), an opaque string.
	MchID string `schema:"mch_id,omitempty" json:"mch_id,omitempty"`
	// OutTradeNo is the merchant's order number (out_trade_no) of the
	// payment attempt.
	OutTradeNo string `schema:"out_trade_no,omitempty" json:"out_trade_no,omitempty"`
	// PayType is the channel (paytype): WECHAT, ALIPAY, ECNY ….
	PayType PayType `schema:"paytype,omitempty" json:"paytype,omitempty"`
	// NonceStr is the gateway's random string (nonce_str); it only varies
	// the sign.
	NonceStr string `schema:"nonce_str,omitempty" json:"nonce_str,omitempty"`
	// WxMchID is WeChat's service-provider merchant number (wx_mch_id),
	// when the channel is WeChat.
	WxMchID string `schema:"wx_mch_id,omitempty" json:"wx_mch_id,omitempty"`
	// WxSubMchID is WeChat's sub-merchant number (wx_sub_mch_id), when
	// the channel is WeChat.
	WxSubMchID string `schema:"wx_sub_mch_id,omitempty" json:"wx_sub_mch_id,omitempty"`
}
