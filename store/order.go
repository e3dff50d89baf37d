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
	// Refunded is reserved for refund support.
	Refunded Status = "REFUNDED"
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
	MchID   string
	Channel model.PayType
	// TradeType is the pre-order trade_type (NATIVE, JSPAY, ...).
	TradeType string
	// Version is the protocol the attempt was created under; it decides
	// which key verifies its notifications.
	Version model.Version
	// Amount is the amount due in fen. A notification settles the attempt
	// only if its total_fee equals Amount exactly.
	Amount int64
	Status Status

	// Payment facts, set by Settle.
	TransactionID        string
	ChannelTransactionID string
	PaidAt               time.Time

	// Fulfilled records that the host's fulfilment hook returned nil.
	Fulfilled   bool
	FulfilledAt time.Time

	// CodeURL and PayInfo are what the pre-order returned, for display.
	CodeURL string
	PayInfo string
	// Reason says why an attempt is FAILED or CLOSED.
	Reason string

	CreatedAt time.Time
	UpdatedAt time.Time

	// NextDue is when the reconciler next looks at the attempt: its next
	// gateway query while PENDING, its next fulfilment retry while PAID and
	// unfulfilled. The zero time means due at once. Scheduler.Claim and
	// Reschedule move it; nothing else does.
	NextDue time.Time
}

// Payment is what a verified notification or order query proves.
type Payment struct {
	TransactionID        string
	ChannelTransactionID string
	PaidAt               time.Time
}
