package handler

import (
	"context"
	"reflect"

	"github.com/cypaykit/kit/store"
)

// Remedy reserves the automatic refund of a payment the buyer did not owe
// (SettlerConfig.AutoRefund). refund.Refunder implements it; the refund's
// rules (its key, its amount, whether a closed attempt may be refunded)
// are the refunder's, not the Settler's.
type Remedy interface {
	// Remedy reserves and records the full refund of o, which the
	// Settler found paid for reason why (AlertDoublePayment,
	// AlertPaidAfterClose or AlertPaidAfterAbandon), for a later Poll to
	// send, and returns its out_refund_no. It is called before the
	// notification is answered, so it must be quick and make no gateway
	// call; a repeat for the same attempt must find the same refund.
	Remedy(ctx context.Context, o store.Order, why AlertKind) (outRefundNo string, err error)
}

// Poller drives due work once (ReconcilerConfig.Refunder):
// refund.Refunder's Poll sends and queries the refunds that are due.
type Poller interface {
	// Poll handles what is due and returns how many it handled.
	Poll(ctx context.Context) (int, error)
}

// isNil reports whether v is nil or an interface holding a nil pointer,
// so that a config field set from a nil *refund.Refunder means off, as
// its documentation says, instead of a call on nil.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}
