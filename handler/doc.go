// Package handler holds the http.Handlers a host mounts to take UnifiedPay
// (超赢) payments — the payment notification (异步通知) receiver, the
// pre-order (主扫预下单) proxy and the order status endpoint — and the
// Reconciler that settles by order query what notifications miss (查单/补单).
// Refunds (退款) are package refund, above this one: the Settler and the
// Reconciler see them only through Remedy and Poller.
//
// Every path that can mark an order PAID goes through one Settler, which
// checks the merchant and the amount against the stored order and settles
// with the store's compare-and-set; the fulfilment hook runs under the
// order's lease and is recorded once it returns nil.
//
// Logging: every handler and the Reconciler log through log/slog, with
// one rule: a nil Logger in any config means slog.Default(). So the kit
// has one logger — set it once with slog.SetDefault, or give the same
// *slog.Logger to every config — and a config's Logger only ever sends
// that one handler elsewhere. Log lines never carry keys, signs or raw
// bodies.
package handler
