// Package store defines how the kit persists payment attempts: the Order
// record, the OrderStore, Scheduler, RefundStore and Locker interfaces a
// host implements over its own database, and their sentinel errors.
// Scheduler is the reconciler's schedule, shared by every instance.
// store/memstore is the embedded default; storetest is the conformance
// suite every implementation passes.
//
// Correctness rests on OrderStore.Settle being an atomic compare-and-set.
// A Locker only keeps side effects (the fulfilment hook) from running
// twice at once and saves duplicate work; a lease can expire, so nothing
// that must never happen twice may depend on it alone. Refunds rest the
// same way on RefundStore.ReserveRefund and UpdateRefund: one atomic step
// each, the second fenced by the caller's claim. TryLocker and Extender
// are optional Locker capabilities the kit uses when present.
package store
