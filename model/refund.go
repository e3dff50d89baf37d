package model

// RefundRequest is method=refund. TotalFee is the order's amount due
// (应付, base_fee); RefundFee the amount to refund. Both are fen.
type RefundRequest struct {
	PayType       PayType `schema:"paytype" validate:"required,paytype"`
	MchID         string  `schema:"mch_id" validate:"required"`
	OutTradeNo    string  `schema:"out_trade_no,omitempty" validate:"required_without=TransactionID,excluded_with=TransactionID"`
	TransactionID string  `schema:"transaction_id,omitempty"`
	OutRefundNo   string  `schema:"out_refund_no" validate:"required,max=32,printascii"`
	TotalFee      int64   `schema:"total_fee" validate:"gt=0"`
	RefundFee     int64   `schema:"refund_fee" validate:"gt=0,ltefield=TotalFee"`
	// OpUserID is required; the client defaults it to MchID.
	OpUserID string `schema:"op_user_id,omitempty"`
}

// RefundResponse is the refund reply.
type RefundResponse struct {
	Envelope
	MchID            string  `schema:"mch_id,omitempty" json:"mch_id,omitempty"`
	OutTradeNo       string  `schema:"out_trade_no,omitempty" json:"out_trade_no,omitempty"`
	TransactionID    string  `schema:"transaction_id,omitempty" json:"transaction_id,omitempty"`
	OutTransactionID string  `schema:"out_transaction_id,omitempty" json:"out_transaction_id,omitempty"`
	OutRefundNo      string  `schema:"out_refund_no,omitempty" json:"out_refund_no,omitempty"`
	RefundID         string  `schema:"refund_id,omitempty" json:"refund_id,omitempty"`
	RefundChannel    string  `schema:"refund_channel,omitempty" json:"refund_channel,omitempty"`
	BaseFee          int64   `schema:"base_fee,omitempty" json:"base_fee,omitempty,string"`
	TotalFee         int64   `schema:"total_fee,omitempty" json:"total_fee,omitempty,string"`
	BaseRefundFee    int64   `schema:"base_refund_fee,omitempty" json:"base_refund_fee,omitempty,string"`
	RefundFee        int64   `schema:"refund_fee,omitempty" json:"refund_fee,omitempty,string"`
	CouponRefundFee  int64   `schema:"coupon_refund_fee,omitempty" json:"coupon_refund_fee,omitempty,string"`
	PayType          PayType `schema:"paytype,omitempty" json:"paytype,omitempty"`
	NonceStr         string  `schema:"nonce_str,omitempty" json:"nonce_str,omitempty"`
}

// RefundQueryRequest is method=refundquery. Send exactly one of
// OutRefundNo and RefundID.
type RefundQueryRequest struct {
	PayType     PayType `schema:"paytype" validate:"required,paytype"`
	MchID       string  `schema:"mch_id" validate:"required"`
	OutRefundNo string  `schema:"out_refund_no,omitempty" validate:"required_without=RefundID,excluded_with=RefundID"`
	RefundID    string  `schema:"refund_id,omitempty"`
}

// RefundQueryResponse is the refundquery reply. RefundList is JSON text
// inside a string; RefundItems decodes it.
type RefundQueryResponse struct {
	Envelope
	MchID                string  `schema:"mch_id,omitempty" json:"mch_id,omitempty"`
	OutTradeNo           string  `schema:"out_trade_no,omitempty" json:"out_trade_no,omitempty"`
	TransactionID        string  `schema:"transaction_id,omitempty" json:"transaction_id,omitempty"`
	OutTransactionID     string  `schema:"out_transaction_id,omitempty" json:"out_transaction_id,omitempty"`
	RefundCount          int     `schema:"refund_count,omitempty" json:"refund_count,omitempty,string"`
	BaseRefundFeeSummary int64   `schema:"base_refund_fee_summary,omitempty" json:"base_refund_fee_summary,omitempty,string"`
	RefundFeeSummary     int64   `schema:"refund_fee_summary,omitempty" json:"refund_fee_summary,omitempty,string"`
	RefundList           string  `schema:"refund_list,omitempty" json:"refund_list,omitempty"`
	PayType              PayType `schema:"paytype,omitempty" json:"paytype,omitempty"`
	NonceStr             string  `schema:"nonce_str,omitempty" json:"nonce_str,omitempty"`
	WxMchID              string  `schema:"wx_mch_id,omitempty" json:"wx_mch_id,omitempty"`
	WxSubMchID           string  `schema:"wx_sub_mch_id,omitempty" json:"wx_sub_mch_id,omitempty"`
}

// RefundItem is one entry of RefundQueryResponse.RefundList.
type RefundItem struct {
	SerialNo        string       `json:"serial_no"`
	RefundID        string       `json:"refund_id"`
	OutRefundID     string       `json:"out_refund_id"`
	OutRefundNo     string       `json:"out_refund_no"`
	RefundChannel   string       `json:"refund_channel"`
	BaseRefundFee   int64        `json:"base_refund_fee"`
	RefundFee       int64        `json:"refund_fee"`
	CouponRefundFee int64        `json:"coupon_refund_fee"`
	RefundStatus    RefundStatus `json:"refund_status"`
	// RefundTime is yyyyMMddHHmmss or, as the example shows,
	// "yyyy-MM-dd HH:mm:ss"; ParseTime reads both.
	RefundTime string `json:"refund_time"`
}
