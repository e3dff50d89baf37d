package model

import "net/url"

// Notification is the gateway's payment-result notification (异步通知) in
// its WeChat or Alipay layout; the e-CNY and v3 notifications use the
// WeChat layout. Business fields are present only when State and
// ResultCode are SUCCESS.
type Notification struct {
	State      State  `schema:"state" validate:"required"`
	ResultCode string `schema:"result_code" validate:"required"`
	Sign       string `schema:"sign" validate:"required"`

	MchID            string `schema:"mch_id,omitempty"`
	DeviceInfo       string `schema:"device_info,omitempty"`
	PayResult        string `schema:"pay_result,omitempty"`
	OutTradeNo       string `schema:"out_trade_no,omitempty"`
	OutTransactionID string `schema:"out_transaction_id,omitempty"`
	TransactionID    string `schema:"transaction_id,omitempty"`
	FeeType          string `schema:"fee_type,omitempty"`
	TotalFee         int64  `schema:"total_fee,omitempty"`
	CouponFee        int64  `schema:"coupon_fee,omitempty"`
	TimeEnd          string `schema:"time_end,omitempty"`
	BankType         string `schema:"bank_type,omitempty"`
	TradeType        string `schema:"trade_type,omitempty"`
	NonceStr         string `schema:"nonce_str,omitempty"`

	// WeChat layout.
	SubAppID        string `schema:"sub_appid,omitempty"`
	SubOpenID       string `schema:"sub_openid,omitempty"`
	PromotionDetail string `schema:"promotion_detail,omitempty"`
	WxMchID         string `schema:"wx_mch_id,omitempty"`
	WxSubMchID      string `schema:"wx_sub_mch_id,omitempty"`

	// Alipay layout. InvoiceAmount is kept as text: the documents do not
	// say whether it is fen or yuan.
	InvoiceAmount string `schema:"invoice_amount,omitempty"`
	BuyerUserID   string `schema:"buyer_user_id,omitempty"`
	BuyerLogonID  string `schema:"buyer_logon_id,omitempty"`
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
