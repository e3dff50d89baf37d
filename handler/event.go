package handler

import (
	"fmt"
	"time"
)

// Outcome classifies what became of one notification or query result.
type Outcome int

// Outcomes reported through SettlerConfig.Observe.
const (
	// Settled: this message moved the order from PENDING to PAID.
	Settled Outcome = iota + 1
	// Duplicate: the order was already PAID with the same transaction.
	Duplicate
	// BadSign: the signature is missing, malformed or wrong, or it
	// verifies only under a key of the other protocol version than the
	// order's. Answered like UnknownOrder, so outsiders cannot tell them
	// apart; this outcome and the log line can.
	BadSign
	// Malformed: wrong method or content type, oversized, undecodable,
	// duplicate names, invalid UTF-8, or a decided field missing, blank or
	// not strictly shaped (model.CheckNotification).
	Malformed
	// UnknownOrder: the out_trade_no is not in the store.
	UnknownOrder
	// Mismatch: a validly signed message whose mch_id or amount differs
	// from the stored order, or that conflicts with its state (an Alert
	// fired).
	Mismatch
	// NotPaid: the gateway reports a failed or unfinished payment; any
	// final failure was recorded.
	NotPaid
	// StoreError: the store or the locker failed.
	StoreError
	// HookError: the fulfilment hook returned an error or panicked.
	HookError
	// Timeout: the deadline passed before the work finished.
	Timeout
	// ConfigError: the keys for the order could not be resolved.
	ConfigError
	// Closed: a query found the order closed, or the reconciler closed a
	// stale attempt.
	Closed
)

var outcomeNames = map[Outcome]string{
	Settled:      "settled",
	Duplicate:    "duplicate",
	BadSign:      "bad_sign",
	Malformed:    "malformed",
	UnknownOrder: "unknown_order",
	Mismatch:     "mismatch",
	NotPaid:      "not_paid",
	StoreError:   "store_error",
	HookError:    "hook_error",
	Timeout:      "timeout",
	ConfigError:  "config_error",
	Closed:       "closed",
}

// String returns a short snake_case name, suitable as a metric label.
func (o Outcome) String() string {
	if s, ok := outcomeNames[o]; ok {
		return s
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Source names where an Event or an Alert came from. The set is closed,
// so a source is safe as a metric label.
type Source string

// Sources of an Event or an Alert.
const (
	SourceNotify Source = "notify" // a payment notification
	SourceQuery  Source = "query"  // an order query by the Reconciler
	SourceRetry  Source = "retry"  // the Reconciler retrying a fulfilment
	SourceRefund Source = "refund" // a Refunder's gateway call
	// SourcePreOrder is the history's source of an attempt's creation and
	// its pre-order; no Event carries it.
	SourcePreOrder Source = "preorder"
	// SourceClose: a buyer's close (Reconciler.Close).
	SourceClose Source = "close"
)

// Event reports one handled notification or query result.
type Event struct {
	// Outcome is what became of the message.
	Outcome    Outcome
	OutTradeNo string // empty when the message could not be decoded
	Source     Source // SourceNotify, SourceQuery or SourceRetry
	// Err is why the outcome is not Settled or Duplicate; it never
	// carries keys.
	Err error
	// Duration is, for SourceNotify, the time from the request reaching
	// Notify to its reply being decided (the reply is written right
	// after); the gateway gives up after 3 s. Zero for other sources.
	Duration time.Duration
}

// AlertKind names what an Alert is about.
type AlertKind string

// Alert kinds. Each means money and records disagree under a valid
// signature: a leaked key, a bug, or a payment someone must handle; or,
// for AlertUnsignedReply (unsigned.go), that the gateway's replies cannot
// be verified, so nothing is being decided.
const (
	// AlertAmountMismatch: a payment's amount is not the attempt's; or
	// (Source SourceRefund) a refund the gateway reports SUCCESS with
	// refund_fee plus coupon_refund_fee (GotAmount) other than the refund
	// asked for (WantAmount): it stays PROCESSING and reserved.
	AlertAmountMismatch AlertKind = "amount_mismatch"
	AlertMchMismatch    AlertKind = "mch_id_mismatch"
	// AlertPaidAfterClose: the gateway reports a payment for an attempt
	// already FAILED or CLOSED here; the money needs a refund or a manual
	// settlement.
	AlertPaidAfterClose AlertKind = "paid_after_close"
	// AlertTransactionConflict: a PAID attempt reported paid again under
	// another transaction id.
	AlertTransactionConflict AlertKind = "transaction_conflict"
	// AlertRefundedUnsettled: a query found a refund for an attempt never
	// settled here; it was closed.
	AlertRefundedUnsettled AlertKind = "refunded_unsettled"
	// AlertDoublePayment: an attempt was paid while another attempt of
	// the same business order (OtherOutTradeNo) had already been
	// fulfilled: the buyer paid twice. The fulfilment hook does not run
	// for it; refund it.
	AlertDoublePayment AlertKind = "double_payment"
	// AlertPaidAfterAbandon: an attempt its buyer had abandoned
	// (Reconciler.Close past the cancel window, or with the cancel's
	// outcome unknown) was paid all the same. Its business order was
	// freed for another attempt, so this is a second payment: the
	// fulfilment hook does not run for it; refund it (AutoRefund does).
	AlertPaidAfterAbandon AlertKind = "paid_after_abandon"
	// AlertRefundChange: the gateway answered CHANGE for a refund: the
	// buyer's card was frozen or closed and the money went back to the
	// merchant's account. Pay the buyer another way; the kit will not
	// refund it again.
	AlertRefundChange AlertKind = "refund_change"
	// AlertRefundUnconfirmed: the gateway refused a refund and then said
	// it does not know its number, both in unsigned error replies (the
	// gateway signs no error). Either the refund was really refused, or a
	// party on the path forged both answers for a refund the gateway
	// made. The kit cannot tell, so the amount stays reserved and the
	// refund is sent again under its own number on the schedule; the
	// alert comes with each try. Check the refund in the merchant
	// console: until the gateway answers it with a signed status, no
	// further refund can use its amount.
	AlertRefundUnconfirmed AlertKind = "refund_unconfirmed"
)

// Alert describes a validly signed message that contradicts the stored
// order. It never carries keys or raw payloads.
type Alert struct {
	// Kind says what disagrees; see the AlertKind constants.
	Kind   AlertKind
	Source Source // SourceNotify, SourceQuery or SourceRefund
	// OutTradeNo is the attempt the message is about.
	OutTradeNo string
	// BusinessID and OtherOutTradeNo are set for AlertDoublePayment: the
	// business order and its attempt that was fulfilled.
	BusinessID, OtherOutTradeNo string
	// OutRefundNo is the refund an AlertRefundChange is about, or the
	// refund an automatic remedy started (SettlerConfig.AutoRefund).
	OutRefundNo string
	// MchID is the order's merchant; GotMchID the message's.
	MchID, GotMchID string
	// WantAmount is the order's amount and GotAmount the message's, in fen.
	WantAmount, GotAmount int64
	// Status is the order's status when the message arrived.
	Status string
	// TransactionID is the message's transaction id; StoredTransactionID
	// the order's, if any.
	TransactionID, StoredTransactionID string
	// Count is, for AlertUnsignedReply, how many unverifiable replies in
	// a row this instance has had.
	Count int
}

// String formats the alert for a log line.
func (a Alert) String() string {
	s := fmt.Sprintf("%s: out_trade_no=%s business_id=%s other_out_trade_no=%s out_refund_no=%s mch_id=%s got_mch_id=%s want_fee=%d got_fee=%d status=%s transaction_id=%s stored_transaction_id=%s",
		a.Kind, a.OutTradeNo, a.BusinessID, a.OtherOutTradeNo, a.OutRefundNo, a.MchID, a.GotMchID, a.WantAmount, a.GotAmount, a.Status, a.TransactionID, a.StoredTransactionID)
	if a.Count != 0 {
		s += fmt.Sprintf(" count=%d", a.Count)
	}
	return s
}
