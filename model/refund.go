package model

// RefundRequest is method=refund. TotalFee is the order's amount due
// (应付, base_fee); RefundFee the amount to refund. Both are fen.
type RefundRequest struct {
	// PayType is the order's channel (paytype).
	PayType PayType `schema:"paytype" validate:"required,paytype"`
	// MchID is the merchant the order belongs to (mch_id).
	MchID string `schema:"mch_id" validate:"required"`
	// OutTradeNo is the paid order to refund (out_trade_no); it wins over
	// TransactionID when both are sent.
	OutTradeNo string `schema:"out_trade_no,omitempty" validate:"required_without=TransactionID,excluded_with=TransactionID"`
	// TransactionID is the gateway's trade number of the paid order
	// (transaction_id), instead of OutTradeNo.
	TransactionID string `schema:"transaction_id,omitempty"`
	// OutRefundNo is the merchant's refund number (out_refund_no): at
	// most 32 characters, unique per merchant.
	OutRefundNo string `schema:"out_refund_no" validate:"required,max=32,printascii"`
	// TotalFee is the order's amount due (应付, base_fee) in fen
	// (total_fee), above 0.
	TotalFee int64 `schema:"total_fee" validate:"gt=0"`
	// RefundFee is the amount to refund in fen (refund_fee), above 0 and
	// at most TotalFee.
	RefundFee int64 `schema:"refund_fee" validate:"gt=0,ltefield=TotalFee"`
	// OpUserID is required; the client defaults it to MchID.
	OpUserID string `schema:"op_user_id,omitempty"`
}

// RefundResponse is the refund reply.
type RefundResponse struct {
	Envelope
	// MchID is the 超赢 merchant number (mch_id), an opaque string.
	MchID string `schema:"mch_id,omitempty" json:"mch_id,omitempty"`
	// OutTradeNo is the merchant's order number (out_trade_no) of the
	// payment attempt.
	OutTradeNo string `schema:"out_trade_no,omitempty" json:"out_trade_no,omitempty"`
	// TransactionID is the gateway's trade number (transaction_id).
	TransactionID string `schema:"transaction_id,omitempty" json:"transaction_id,omitempty"`
	// OutTransactionID is the channel's refund number
	// (out_transaction_id).
	OutTransactionID string `schema:"out_transaction_id,omitempty" json:"out_transaction_id,omitempty"`
	// OutRefundNo is the merchant's refund number (out_refund_no): at
	// most 32 characters, unique per merchant.
	OutRefundNo string `schema:"out_refund_no,omitempty" json:"out_refund_no,omitempty"`
	// RefundID is the gateway's refund number (refund_id).
	RefundID string `schema:"refund_id,omitempty" json:"refund_id,omitempty"`
	// RefundChannel is where the money goes back (refund_channel);
	// ORIGINAL, the original route.
	RefundChannel string `schema:"refund_channel,omitempty" json:"refund_channel,omitempty"`
	// BaseFee is the order's amount due in fen (base_fee).
	BaseFee int64 `schema:"base_fee,omitempty" json:"base_fee,omitempty,string"`
	// TotalFee is the order's amount paid in fen (total_fee).
	TotalFee int64 `schema:"total_fee,omitempty" json:"total_fee,omitempty,string"`
	// BaseRefundFee is the refund requested in fen (base_refund_fee).
	BaseRefundFee int64 `schema:"base_refund_fee,omitempty" json:"base_refund_fee,omitempty,string"`
	// RefundFee is the amount actually refunded in fen (refund_fee).
	RefundFee int64 `schema:"refund_fee,omitempty" json:"refund_fee,omitempty,string"`
	// CouponRefundFee is the coupon part of the refund in fen
	// (coupon_refund_fee); coupons are not refunded to the buyer.
	CouponRefundFee int64 `schema:"coupon_refund_fee,omitempty" json:"coupon_refund_fee,omitempty,string"`
	// PayType is the channel (paytype): WECHAT, ALIPAY, ECNY ….
	PayType PayType `schema:"paytype,omitempty" json:"paytype,omitempty"`
	// NonceStr is the gateway's random string (nonce_str); it only varies
	// the sign.
	NonceStr string `schema:"nonce_str,omitempty" json:"nonce_str,omitempty"`
}

// RefundQueryRequest is method=refundquery. Send exactly one of
// OutRefundNo and RefundID.
type RefundQueryRequest struct {
	// PayType is the order's channel (paytype).
	PayType PayType `schema:"paytype" validate:"required,paytype"`
	// MchID is the merchant the refund belongs to (mch_id).
	MchID string `schema:"mch_id" validate:"required"`
	// OutRefundNo is the merchant's refund number to look up
	// (out_refund_no); it wins over RefundID.
	OutRefundNo string `schema:"out_refund_no,omitempty" validate:"required_without=RefundID,excluded_with=RefundID"`
	// RefundID is the gateway's refund number to look up (refund_id),
	// instead of OutRefundNo.
	RefundID string `schema:"refund_id,omitempty"`
}

// RefundQueryResponse is the refundquery reply. RefundList is JSON text
// inside a string; RefundItems decodes it.
type RefundQueryResponse struct {
	Envelope
	// MchID is the 超赢 merchant number (mch_id), an opaque string.
	MchID string `schema:"mch_id,omitempty" json:"mch_id,omitempty"`
	// OutTradeNo is the merchant's order number (out_trade_no) of the
	// payment attempt.
	OutTradeNo string `schema:"out_trade_no,omitempty" json:"out_trade_no,omitempty"`
	// TransactionID is the gateway's trade number (transaction_id).
	TransactionID string `schema:"transaction_id,omitempty" json:"transaction_id,omitempty"`
	// OutTransactionID is the channel's order number
	// (out_transaction_id).
	OutTransactionID string `schema:"out_transaction_id,omitempty" json:"out_transaction_id,omitempty"`
	// RefundCount is how many refunds the order has (refund_count).
	RefundCount int `schema:"refund_count,omitempty" json:"refund_count,omitempty,string"`
	// BaseRefundFeeSummary is the sum of refunds requested in fen
	// (base_refund_fee_summary).
	BaseRefundFeeSummary int64 `schema:"base_refund_fee_summary,omitempty" json:"base_refund_fee_summary,omitempty,string"`
	// RefundFeeSummary is the sum actually refunded in fen
	// (refund_fee_summary).
	RefundFeeSummary int64 `schema:"refund_fee_summary,omitempty" json:"refund_fee_summary,omitempty,string"`
	// RefundList is a JSON array inside a string, one item per refund;
	// RefundItems decodes it.
	RefundList string `schema:"refund_list,omitempty" json:"refund_list,omitempty"`
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

// RefundItem is one entry of RefundQueryResponse.RefundList.
type RefundItem struct {
	// SerialNo orders the refunds of an order by application time,
	// ascending (serial_no).
	SerialNo string `json:"serial_no"`
	// RefundID is the gateway's refund number.
	RefundID string `json:"refund_id"`
	// OutRefundID is the channel's refund number (out_refund_id).
	OutRefundID string `json:"out_refund_id"`
	// OutRefundNo is the merchant's refund number.
	OutRefundNo string `json:"out_refund_no"`
	// RefundChannel is where the money goes back; ORIGINAL, the original
	// route.
	RefundChannel string `json:"refund_channel"`
	// BaseRefundFee is the refund requested in fen.
	BaseRefundFee int64 `json:"base_refund_fee"`
	// RefundFee is the amount actually refunded in fen.
	RefundFee int64 `json:"refund_fee"`
	// CouponRefundFee is the coupon part of the refund in fen.
	CouponRefundFee int64 `json:"coupon_refund_fee"`
	// RefundStatus is the refund's state: SUCCESS, FAIL, PROCESSING,
	// NOTSURE (retry with the same OutRefundNo) or CHANGE (handle by
	// hand).
	RefundStatus RefundStatus `json:"refund_status"`
	// RefundTime is yyyyMMddHHmmss or, as the example shows,
	// "yyyy-MM-dd HH:mm:ss"; ParseTime reads both.
	RefundTime string `json:"refund_time"`
}
