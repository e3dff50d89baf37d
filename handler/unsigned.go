package handler

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/cypaykit/kit/client"
)

// AlertUnsignedReply: the gateway's replies have come back unsigned, with
// a sign that does not verify, or re-cut (client.Unverifiable) Count times
// in a row on this instance. Such a reply decides nothing (guarantee
// G14): the attempt or refund stays as it was and is asked again on its
// schedule, so orders stop settling by query and refunds stop finishing
// while it lasts. Something between the kit and the gateway — a proxy, a
// plain-http GatewayURL, a compromised egress — is changing the replies,
// or the keys are wrong. It is raised at the 3rd, 6th, 12th, 24th …
// such reply in a row, and the count starts again after a reply that
// verifies.
const AlertUnsignedReply AlertKind = "unsigned_reply"

// ReplyStreak counts one component's unverifiable gateway replies in a
// row and raises AlertUnsignedReply when they last (the Reconciler keeps
// one, and so does refund.Refunder). The zero value is ready; it is safe
// for concurrent use.
type ReplyStreak struct{ n atomic.Int64 }

// note records the error of one gateway call and returns how many
// unverifiable replies in a row there have been, and whether an alert is
// due at that count. A nil error is a verified reply and starts the count
// again; any other error (the network, an unsigned plain error reply)
// proves nothing either way and leaves it as it is.
func (s *ReplyStreak) note(err error) (n int64, due bool) {
	if err == nil {
		s.n.Store(0)
		return 0, false
	}
	if !client.Unverifiable(err) {
		return s.n.Load(), false
	}
	n = s.n.Add(1)
	return n, alertDue(n)
}

// alertDue reports the counts 3, 6, 12, 24 …: 3 times a power of two, so
// a lasting fault keeps reminding without flooding.
func alertDue(n int64) bool {
	if n < 3 || n%3 != 0 {
		return false
	}
	q := n / 3
	return q&(q-1) == 0
}

// Note counts one gateway call's result (err) and, when an alert is due,
// logs it to log and passes it to alert (which may be nil). a says what
// was asked about; its Kind and Count are set here.
func (s *ReplyStreak) Note(ctx context.Context, log *slog.Logger, alert func(context.Context, Alert), a Alert, err error) {
	n, due := s.note(err)
	if !due {
		return
	}
	a.Kind, a.Count = AlertUnsignedReply, int(n)
	log.LogAttrs(ctx, slog.LevelError, "handler: gateway replies do not verify: nothing is decided on them",
		slog.String("alert", string(a.Kind)), slog.Int("in_a_row", a.Count), slog.String("source", string(a.Source)),
		slog.String("out_trade_no", a.OutTradeNo), slog.String("out_refund_no", a.OutRefundNo),
		slog.String("mch_id", a.MchID), slog.String("err", err.Error()))
	if alert != nil {
		alert(ctx, a)
	}
}
