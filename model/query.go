package model

// OrderQueryRequest is method=orderquery. Send exactly one of OutTradeNo and
// TransactionID: the documents disagree on which wins when both are sent.
type OrderQueryRequest struct {
	PayType       PayType `schema:"paytype" validate:"required,paytype"`
	MchID         string  `schema:"mch_id" validate:"required"`
	OutTradeNo    string  `schema:"out_trade_no,omitempty" validate:"required_without=TransactionID,excluded_with=TransactionID"`
	TransactionID string  `schema:"transaction_id,omitempty"`
}

// OrderQueryResponse is the orderquery reply. TotalFee is the amount paid
// (实付) and BaseFee the amount due (应付).
type OrderQueryResponse struct {
	Envelope
	MchID            string  `schema:"mch_id,omitempty" json:"mch_id,omitempty"`
	AppID            string  `schema:"appid,omitempty" json:"appid,omitempty"`
	OpenID           string  `schema:"openid,omitempty" json:"openid,omitempty"`
	SubAppID         string  `schema:"sub_appid,omitempty" json:"sub_appid,omitempty"`
	SubOpenID        string  `schema:"sub_openid,omitempty" json:"sub_openid,omitempty"`
	BuyerUserID      string  `schema:"buyer_user_id,omitempty" json:"buyer_user_id,omitempty"`
	OutTradeNo       string  `schema:"out_trade_no,omitempty" json:"out_trade_no,omitempty"`
	TransactionID    string  `schema:"transaction_id,omitempty" json:"transaction_id,omitempty"`
	OutTransactionID string  `schema:"out_transaction_id,omitempty" json:"out_transaction_id,omitempty"`
	BaseFee          int64   `schema:"base_fee,omitempty" json:"base_fee,omitempty,string"`
	TotalFee         int64   `schema:"total_fee,omitempty" json:"total_fee,omitempty,string"`
	CouponFee        int64   `schema:"coupon_fee,omitempty" json:"coupon_fee,omitempty,string"`
	FeeType          string  `schema:"fee_type,omitempty" json:"fee_type,omitempty"`
	Attach           string  `schema:"attach,omitempty" json:"attach,omitempty"`
	TimeEnd          string  `schema:"time_end,omitempty" json:"time_end,omitempty"`
	NonceStr         string  `schema:"nonce_str,omitempty" json:"nonce_str,omitempty"`
	TradeType        string  `schema:"trade_type,omitempty" json:"trade_type,omitempty"`
	PayType          PayType `schema:"paytype,omitempty" json:"paytype,omitempty"`
	PromotionDetail  string  `schema:"promotion_detail,omitempty" json:"promotion_detail,omitempty"`
	WxMchID          string  `schema:"wx_mch_id,omitempty" json:"wx_mch_id,omitempty"`
	WxSubMchID       string  `schema:"wx_sub_mch_id,omitempty" json:"wx_sub_mch_id,omitempty"`
}
