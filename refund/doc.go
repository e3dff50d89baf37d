// Package refund gives money back (退款): a Refunder refunds a paid
// payment attempt at the UnifiedPay gateway once per refund number
// (out_refund_no) and never more than was paid.
//
// Whether a refund may go out is answered in two places, both named here.
// Refunder.Refund and Enqueue check the request (reserveOnce in
// refund.go: the fields, a positive amount, the PAID attempt of a
// business order), then the store reserves it in one atomic step
// (store.RefundStore.ReserveRefund, with store.RefundAllowed: the attempt
// is PAID, or FAILED or CLOSED for Request.AfterClose, and the amount fits
// what is left). Whether it is sent, sent again or only queried is
// drive.go's, and how the answer is recorded is store.Refund.Apply's
// (the one copy of the RefundUpdate rules; memstore's and sqlstore's
// UpdateRefund call it).
//
// The package sits above package handler: it uses handler's vocabulary
// (handler.Alert, handler.Trace, handler.StageRefund,
// handler.ErrOrderNotFound) and a Refunder plugs into the Settler
// (handler.SettlerConfig.AutoRefund, through Refunder.Remedy) and the
// Reconciler (handler.ReconcilerConfig.Refunder, through Refunder.Poll).
package refund
