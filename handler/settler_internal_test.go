package handler

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// TestSettleRequiresTheOrdersMchID proves the Settler's own mch_id check,
// the last line behind Notify's and the client's: a proof without mch_id,
// or naming another merchant, never settles, whatever its source.
func TestSettleRequiresTheOrdersMchID(t *testing.T) {
	t.Parallel()
	for _, got := range []string{"", "M100002", "m100001"} {
		t.Run("mch_id "+got, func(t *testing.T) {
			t.Parallel()
			m := memstore.New()
			now := time.Date(2026, 5, 1, 12, 0, 0, 0, model.Beijing)
			var alerts []Alert
			s, err := NewSettler(SettlerConfig{Store: m, Locker: m, Now: func() time.Time { return now },
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Alert:  func(_ context.Context, a Alert) { alerts = append(alerts, a) },
				Fulfill: func(context.Context, store.Order) error {
					t.Error("hook ran")
					return nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			o := &store.Order{OutTradeNo: "SETTLEMCH01", BusinessID: "B1", Attempt: 1, MchID: "M100001",
				Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
				Amount: 1800, Status: store.Pending, CreatedAt: now, UpdatedAt: now}
			if err := m.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
			before, _ := m.Get(ctx, o.OutTradeNo)
			outcome, err := s.settle(ctx, before, proof{source: SourceQuery, mchID: got, amount: 1800,
				payment: store.Payment{TransactionID: "T1", PaidAt: now}})
			if outcome != Mismatch || !errors.Is(err, ErrMismatch) {
				t.Errorf("got %s, %v; want mismatch", outcome, err)
			}
			after, _ := m.Get(ctx, o.OutTradeNo)
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("order changed (-before +after):\n%s", diff)
			}
			if len(alerts) != 1 || alerts[0].Kind != AlertMchMismatch {
				t.Errorf("alerts: got %+v, want one %s", alerts, AlertMchMismatch)
			}
		})
	}
}

// TestSettlerRecordForDefault: an unset RecordFor is LockTTL but never
// under 5 s, so that a short lease does not also shorten the time given
// to a database that is failing for a few seconds (a lost record is a
// second run of the hook). Mutant killed (gremlins): the 5 s floor gone.
func TestSettlerRecordForDefault(t *testing.T) {
	t.Parallel()
	m := memstore.New()
	for _, c := range []struct{ ttl, recordFor, want time.Duration }{
		{ttl: time.Second, want: 5 * time.Second},
		{ttl: time.Minute, want: time.Minute},
		{ttl: time.Second, recordFor: 2 * time.Second, want: 2 * time.Second},
		{want: 30 * time.Second}, // LockTTL's own default
	} {
		s, err := NewSettler(SettlerConfig{Store: m, LockTTL: c.ttl, RecordFor: c.recordFor})
		if err != nil {
			t.Fatal(err)
		}
		if s.record != c.want {
			t.Errorf("LockTTL %v, RecordFor %v: record for %v, want %v", c.ttl, c.recordFor, s.record, c.want)
		}
	}
}
