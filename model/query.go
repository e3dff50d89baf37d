package model

// OrderQueryRequest is method=orderquery. Send exactly one of OutTradeNo and
// TransactionID: the documents disagree on which wins when both are sent.
type OrderQueryRequest struct {
	// PayType is the order's channel (paytype), required on v1 and v2.
	PayType PayType `schema:"paytype" validate:"required,paytype"`
	// MchID is the merchant the order belongs to (mch_id).
	MchID string `schema:"mch_id" validate:"required"`
	// OutTradeNo is the order to look up (out_trade_no); the kit sends
	// only this id.
	OutTradeNo string `schema:"out_trade_no,omitempty" validate:"required_without=TransactionID,excluded_with=TransactionID"`
	// TransactionID is the gateway's trade number to look up
	// (transaction_id), instead of OutTradeNo.
	TransactionID string `schema:"transaction_id,omitempty"`
}

// OrderQueryResponse is the orderquery reply. TotalFee is the amount paid
// (实付) and BaseFee the amount due (应付).
type OrderQueryResponse struct {
	Envelope
	// MchID is the 超赢 merchant number (mch_id), an opaque string.
	MchID string `schema:"mch_id,omitempty" json:"mch_id,omitempty"`
	// AppID is the WeChat AppID of the payment (appid); the documents
	// mark it required, their examples omit it.
	AppID string `schema:"appid,omitempty" json:"appid,omitempty"`
	// OpenID is the buyer's WeChat openid under the service provider's
	// AppID (openid).
	OpenID string `schema:"openid,omitempty" json:"openid,omitempty"`
	// SubAppID is the WeChat official-account or mini-program AppID
	// (sub_appid).
	SubAppID string `schema:"sub_appid,omitempty" json:"sub_appid,omitempty"`
	// SubOpenID is the buyer's WeChat openid under SubAppID (sub_openid).
	SubOpenID string `schema:"sub_openid,omitempty" json:"sub_openid,omitempty"`
	// BuyerUserID is the buyer's Alipay user id (buyer_user_id, 2088…),
	// for Alipay payments.
	BuyerUserID string `schema:"buyer_user_id,omitempty" json:"buyer_user_id,omitempty"`
	// OutTradeNo is the merchant's order number (out_trade_no) of the
	// payment attempt.
	OutTradeNo string `schema:"out_trade_no,omitempty" json:"out_trade_no,omitempty"`
	// TransactionID is the gateway's trade number (transaction_id).
	TransactionID string `schema:"transaction_id,omitempty" json:"transaction_id,omitempty"`
	// OutTransactionID is the channel's own order number
	// (out_transaction_id), e.g. WeChat's; optional.
	OutTransactionID string `schema:"out_transaction_id,omitempty" json:"out_transaction_id,omitempty"`
	// BaseFee is the amount due (应付, base_fee) in fen; the kit compares
	// it, or TotalFee when absent, with the order's amount.
	BaseFee int64 `schema:"base_fee,omitempty" json:"base_fee,omitempty,string"`
	// TotalFee is the amount actually paid (实付, total_fee) in fen.
	TotalFee int64 `schema:"total_fee,omitempty" json:"total_fee,omitempty,string"`
	// CouponFee is the coupon (discount) part of the amount in fen
	// (coupon_fee); cash paid is TotalFee minus CouponFee.
	CouponFee int64 `schema:"coupon_fee,omitempty" json:"coupon_fee,omitempty,string"`
	// FeeType is the currency (fee_type), CNY.
	FeeType string `schema:"fee_type,omitempty" json:"fee_type,omitempty"`
	// Attach is the merchant's extra data (attach), returned as sent;
	// notifications do not echo it.
	Attach string `schema:"attach,omitempty" json:"attach,omitempty"`
	// TimeEnd is the payment time (time_end), yyyyMMddHHmmss in GMT+8;
	// ParseTime reads it.
	TimeEnd string `schema:"time_end,omitempty" json:"time_end,omitempty"`
	// NonceStr is the gateway's random string (nonce_str); it only varies
	// the sign.
	NonceStr string `schema:"nonce_str,omitempty" json:"nonce_str,omitempty"`
	// TradeType is the gateway's trade_type, e.g. pay.wechat.micropay; an
	// opaque string.
	TradeType string `schema:"trade_type,omitempty" json:"trade_type,omitempty"`
	// PayType is the channel (paytype): WECHAT, ALIPAY, ECNY ….
	PayType PayType `schema:"paytype,omitempty" json:"paytype,omitempty"`
	// PromotionDetail is WeChat's promotion detail (promotion_detail),
	// JSON text kept as sent.
	PromotionDetail string `schema:"promotion_detail,omitempty" json:"promotion_detail,omitempty"`
	// WxMchID is WeChat's service-provider merchant number (wx_mch_id),
	// when the channel is WeChat.
	WxMchID string `schema:"wx_mch_id,omitempty" json:"wx_mch_id,omitempty"`
	// WxSubMchID is WeChat's sub-merchant number (wx_sub_mch_id), when
	// the channel is WeChat.
	WxSubMchID string `schema:"wx_sub_mch_id,omitempty" json:"wx_sub_mch_id,omitempty"`
	// BankType is the paying bank or account type (bank_type). The query
	// table does not list it (notifications carry it); kept when sent.
	BankType string `schema:"bank_type,omitempty" json:"bank_type,omitempty"`

	// FactsDropped reports that the client left this reply's payment
	// facts (model.FactFields: coupon_fee, fee_type, bank_type,
	// sub_appid, wx_mch_id, wx_sub_mch_id) empty because one failed
	// CheckFacts: the reply still decides, but its facts are unknown, not
	// zero. Set by the client, never read from the wire.
	FactsDropped bool `schema:"-" json:"-"`
}
