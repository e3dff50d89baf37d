package store

import (
	"time"

	"github.com/cypaykit/kit/model"
)

// Status is where a payment attempt stands.
type Status string

// Statuses. An attempt starts PENDING and leaves it exactly once.
const (
	Pending Status = "PENDING"
	Paid    Status = "PAID"
	// Failed: the gateway reported that the payment failed.
	Failed Status = "FAILED"
	// Closed: the attempt was cancelled or expired unpaid.
	Closed Status = "CLOSED"
	// Refunded: a PAID attempt whose successful refunds add up to its
	// amount (see RefundStore). Partly refunded attempts stay PAID.
	Refunded Status = "REFUNDED"
	// Reversed: the attempt was cancelled at the gateway inside its
	// 5-minute cancel window after the buyer had paid it, so the gateway
	// gave the money back (撤销). It is never fulfilled. Recorded by
	// Closer.Reverse, from PENDING or from a PAID attempt that was
	// abandoned first.
	Reversed Status = "REVERSED"
)

// Order is one payment attempt (one out_trade_no) of a business order.
type Order struct {
	// OutTradeNo is the gateway's merchant order number and the key:
	// business order id plus attempt sequence, ^[A-Za-z0-9]{5,32}$.
	OutTradeNo string
	// BusinessID is the host's own order id; one business order may have
	// several attempts.
	BusinessID string
	// Attempt numbers the attempts of a business order from 1.
	Attempt int
	// MchID is the merchant (mch_id) the attempt was pre-ordered for; a
	// notification for another merchant never settles it.
	MchID string
	// Channel is the payment channel the buyer chose: WECHAT, ALIPAY or
	// ECNY.
	Channel model.PayType
	// TradeType is the pre-order trade_type (NATIVE, JSPAY, ...).
	TradeType string
	// Version is the protocol the attempt was created under; it decides
	// which key verifies its notifications.
	Version model.Version
	// Amount is the amount due in fen. A notification settles the attempt
	// only if its total_fee equals Amount exactly.
	Amount int64
	// Status is where the attempt stands; it leaves PENDING exactly once,
	// by a compare-and-set in the store.
	Status Status

	// TransactionID is the gateway's trade number (transaction_id). It and
	// the payment facts below are set by Settle.
	TransactionID string
	// ChannelTransactionID is the channel's own trade number
	// (out_transaction_id, e.g. WeChat's), when the gateway sent one.
	ChannelTransactionID string
	// PaidAt is when the buyer paid (the gateway's time_end, GMT+8; the
	// time the kit learnt of it when that is missing or unparsable). Zero
	// until PAID. Stores may hand it back in another zone;
	// handler.OrderView shows it in +08:00.
	PaidAt time.Time
	// Money is what the settling notification or query said about the
	// money (coupon, cash, currency, bank, WeChat ids), for accounting and
	// refunds. Set by Settle with the payment; Money.Recorded is false
	// until then, and for attempts settled before stores kept it.
	Money MoneyFacts

	// Fulfilled records that the host's fulfilment hook returned nil.
	Fulfilled bool
	// FulfilledAt is when Fulfilled was recorded; zero until then.
	FulfilledAt time.Time

	// CodeURL and PayInfo are what the pre-order returned, for display.
	// CodeURL is the text to render as the QR code (NATIVE).
	CodeURL string
	// PayInfo is the JSAPI cashier's parameters (JSON text) for JSPAY
	// attempts; see docs/jsapi.md.
	PayInfo string
	// Buyer is an opaque fingerprint (a hash, never the raw ids) of the
	// buyer fields a JSPAY attempt was pre-ordered with (sub_appid,
	// buyer_id, is_minipg, buyer_logon_id), set by the pre-order handler
	// so that it shares a JSPAY attempt, whose PayInfo belongs to one
	// buyer, only with requests of that same buyer. Empty for other trade
	// types and for attempts recorded before stores kept it.
	Buyer string
	// Reason says why an attempt is FAILED or CLOSED.
	Reason string

	// CreatedAt is when the attempt was recorded, before the gateway was
	// called.
	CreatedAt time.Time
	// UpdatedAt is the time of the attempt's last change.
	UpdatedAt time.Time
	// ExpiresAt is when the gateway stops accepting payment for the
	// attempt: the time_expire it was pre-ordered with (time_start being
	// CreatedAt). The reconciler watches the attempt until then and closes
	// it just after. Zero for attempts recorded before stores kept it:
	// those are watched until the reconciler's MaxAge, as before.
	ExpiresAt time.Time

	// AbandonedAt is when the buyer gave the attempt up (Closer.Abandon):
	// its business order is free for a new attempt, and a payment that
	// still lands on it is a second payment, never fulfilled. The attempt
	// itself stays PENDING and watched until its expiry, because the
	// gateway may still take a payment for it. Zero: not abandoned.
	AbandonedAt time.Time

	// NextDue is when the reconciler next looks at the attempt: its next
	// gateway query while PENDING, its next fulfilment retry while PAID and
	// unfulfilled. The zero time means due at once. Scheduler.Claim and
	// Reschedule move it; nothing else does.
	NextDue time.Time
}

// Payment is what a verified notification or order query proves.
type Payment struct {
	// TransactionID is the gateway's trade number (transaction_id).
	// Settling again with the same one is a duplicate; with another, a
	// conflict.
	TransactionID string
	// ChannelTransactionID is the channel's trade number
	// (out_transaction_id); empty when not sent.
	ChannelTransactionID string
	// PaidAt is the payment time (time_end, GMT+8).
	PaidAt time.Time
	// Money is what the proof said about the money; Recorded false when
	// it said nothing the kit could trust (see MoneyFacts).
	Money MoneyFacts
}

// MoneyFacts are the signed facts about a payment's money that accounting
// and refunds need, beyond the amount due (Order.Amount). Fields the
// gateway did not send stay empty (zero). They are recorded only from a
// notification or query reply whose signature verified, and only when
// every one of them was well formed and could not have been cut from
// another field (model.CheckFacts); otherwise none is, and Recorded says
// so.
type MoneyFacts struct {
	// Recorded reports that the facts below come from the settling
	// proof. False: unknown (the attempt is not paid, was settled before
	// stores kept them, or its proof's facts were refused), never "no
	// coupon".
	Recorded bool
	// CouponFee is the coupon (代金券) part of the amount in fen
	// (coupon_fee); 0 when none was sent. The gateway does not refund it.
	CouponFee int64
	// CashFee is the cash the buyer actually paid in fen: Order.Amount
	// minus CouponFee, the gateway's own formula (现金支付金额 = 订单金额 -
	// 代金券金额).
	CashFee int64
	// FeeType is the currency (fee_type), CNY.
	FeeType string
	// BankType is the paying bank or account type (bank_type), e.g. CFT
	// or ALIPAYACCOUNT; order queries do not document it.
	BankType string
	// SubAppID is the WeChat AppID the buyer paid under (sub_appid).
	SubAppID string
	// WxMchID is WeChat's service-provider merchant number (wx_mch_id).
	WxMchID string
	// WxSubMchID is WeChat's sub-merchant number (wx_sub_mch_id).
	WxSubMchID string
}
