package model

import "net/url"

// Notification is the gateway's payment-result notification (异步通知) in
// its WeChat or Alipay layout; the e-CNY and v3 notifications use the
// WeChat layout. Business fields are present only when State and
// ResultCode are SUCCESS.
type Notification struct {
	// State is the exchange status (state); business fields come only
	// with SUCCESS.
	State State `schema:"state" validate:"required"`
	// ResultCode is the business result (result_code): SUCCESS, or
	// anything else for a failure; old deployments send 0 for success.
	ResultCode string `schema:"result_code" validate:"required"`
	// Sign is the notification's signature (sign); the kit verifies it
	// over every received field.
	Sign string `schema:"sign" validate:"required"`

	// MchID is the merchant (mch_id); the kit settles only if it equals
	// the order's.
	MchID string `schema:"mch_id,omitempty"`
	// DeviceInfo is the terminal id (device_info) the pre-order gave.
	DeviceInfo string `schema:"device_info,omitempty"`
	// PayResult is the payment result (pay_result): "0" is paid, anything
	// else failed.
	PayResult string `schema:"pay_result,omitempty"`
	// OutTradeNo is the attempt the notification is about (out_trade_no).
	OutTradeNo string `schema:"out_trade_no,omitempty"`
	// OutTransactionID is the channel's own order number
	// (out_transaction_id), e.g. WeChat's; optional.
	OutTransactionID string `schema:"out_transaction_id,omitempty"`
	// TransactionID is the gateway's trade number (transaction_id);
	// required on success.
	TransactionID string `schema:"transaction_id,omitempty"`
	// FeeType is the currency (fee_type), CNY.
	FeeType string `schema:"fee_type,omitempty"`
	// TotalFee is the order amount in fen (分) (total_fee); the kit
	// settles only if it equals the order's amount exactly. Cash paid is
	// TotalFee minus CouponFee.
	TotalFee int64 `schema:"total_fee,omitempty"`
	// CouponFee is the coupon (discount) part of the amount in fen
	// (coupon_fee); cash paid is TotalFee minus CouponFee.
	CouponFee int64 `schema:"coupon_fee,omitempty"`
	// TimeEnd is the payment time (time_end), yyyyMMddHHmmss in GMT+8;
	// ParseTime reads it.
	TimeEnd string `schema:"time_end,omitempty"`
	// BankType is the paying bank or account type (bank_type), e.g. CFT
	// or ALIPAYACCOUNT.
	BankType string `schema:"bank_type,omitempty"`
	// TradeType is the gateway's trade_type, e.g. pay.weixin.native or
	// pay.alipay.jspay; an opaque string the kit never branches on.
	TradeType string `schema:"trade_type,omitempty"`
	// NonceStr is the gateway's random string (nonce_str); it only varies
	// the sign.
	NonceStr string `schema:"nonce_str,omitempty"`

	// SubAppID is the WeChat AppID the buyer paid under (sub_appid). It
	// and the fields up to WxSubMchID come in the WeChat layout only.
	SubAppID string `schema:"sub_appid,omitempty"`
	// SubOpenID is the buyer's WeChat openid under SubAppID (sub_openid).
	SubOpenID string `schema:"sub_openid,omitempty"`
	// PromotionDetail is WeChat's promotion detail (promotion_detail),
	// JSON text kept as sent.
	PromotionDetail string `schema:"promotion_detail,omitempty"`
	// WxMchID is WeChat's service-provider merchant number (wx_mch_id),
	// when the channel is WeChat.
	WxMchID string `schema:"wx_mch_id,omitempty"`
	// WxSubMchID is WeChat's sub-merchant number (wx_sub_mch_id), when
	// the channel is WeChat.
	WxSubMchID string `schema:"wx_sub_mch_id,omitempty"`

	// InvoiceAmount is the invoiceable amount (invoice_amount), Alipay
	// layout only; kept as text because the documents do not say whether
	// it is fen or yuan.
	InvoiceAmount string `schema:"invoice_amount,omitempty"`
	// BuyerUserID is the buyer's Alipay user id (buyer_user_id, 2088…),
	// for Alipay payments.
	BuyerUserID string `schema:"buyer_user_id,omitempty"`
	// BuyerLogonID is the buyer's Alipay account (buyer_logon_id), masked
	// by Alipay.
	BuyerLogonID string `schema:"buyer_logon_id,omitempty"`
	// FundBillList is JSON text whose amounts are yuan strings.
	FundBillList string `schema:"fund_bill_list,omitempty"`
	// GmtCreate appears in the Alipay example but not in its table.
	GmtCreate string `schema:"gmt_create,omitempty"`

	// Extra holds every received field this type does not name. Such
	// fields are signed like the others, so they are kept, never dropped.
	Extra url.Values `schema:"-"`
}

// Paid reports whether the gateway says the buyer paid: state, result_code
// and pay_result all successful. It says nothing about the signature or
// the amount; those are the caller's to check.
func (n *Notification) Paid() bool {
	return n.State == StateSuccess && (n.ResultCode == ResultSuccess || n.ResultCode == "0") && n.PayResult == PayResultSuccess
}

// Notification result values.
const (
	ResultSuccess    = "SUCCESS"
	PayResultSuccess = "0"
)
