// Package memstore is the embedded default store.OrderStore,
// store.Scheduler and store.Locker: maps behind a mutex, for one process,
// tests and demos. Nothing survives a restart, and it coordinates nothing
// across processes.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cypaykit/kit/store"
)

var (
	_ store.OrderStore  = (*Store)(nil)
	_ store.TryLocker   = (*Store)(nil)
	_ store.Extender    = (*Store)(nil)
	_ store.RefundStore = (*Store)(nil)
)

// Store keeps orders, their schedule, refunds and leases in memory. The
// zero value is not usable; call New. A Store is safe for concurrent use.
type Store struct {
	mu         sync.Mutex
	orders     map[string]*store.Order
	byBusiness map[string][]string      // BusinessID -> OutTradeNos
	refunds    map[string]*store.Refund // OutRefundNo -> refund
	byAttempt  map[string][]string      // OutTradeNo -> OutRefundNos, by Seq
	byKey      map[string]string        // IdempotencyKey -> OutRefundNo
	claims     map[string]string        // OutTradeNo -> token of its latest claim
	claimSeq   uint64

	lmu    sync.Mutex
	leases map[string]*lease

	hmu  sync.Mutex
	hist history
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		orders:     make(map[string]*store.Order),
		byBusiness: make(map[string][]string),
		refunds:    make(map[string]*store.Refund),
		byAttempt:  make(map[string][]string),
		byKey:      make(map[string]string),
		claims:     make(map[string]string),
		leases:     make(map[string]*lease),
	}
}

func clone(o *store.Order) *store.Order {
	c := *o
	return &c
}

// Create implements store.OrderStore.
func (s *Store) Create(ctx context.Context, o *store.Order) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if o == nil {
		return errors.New("memstore: create: nil order")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orders[o.OutTradeNo]; ok {
		return fmt.Errorf("memstore: create %s: %w", o.OutTradeNo, store.ErrExists)
	}
	s.orders[o.OutTradeNo] = clone(o)
	s.byBusiness[o.BusinessID] = append(s.byBusiness[o.BusinessID], o.OutTradeNo)
	return nil
}

// Get implements store.OrderStore.
func (s *Store) Get(ctx context.Context, outTradeNo string) (*store.Order, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return nil, fmt.Errorf("memstore: get %s: %w", outTradeNo, store.ErrNotFound)
	}
	return clone(o), nil
}

// ListByBusinessID implements store.OrderStore.
func (s *Store) ListByBusinessID(ctx context.Context, businessID string) ([]*store.Order, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := s.byBusiness[businessID]
	out := make([]*store.Order, 0, len(keys))
	for _, k := range keys {
		out = append(out, clone(s.orders[k]))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Attempt < out[j].Attempt })
	return out, nil
}

// update runs fn on the stored attempt under the lock; fn changes it in
// place and returns an error to refuse.
func (s *Store) update(ctx context.Context, op, outTradeNo string, fn func(o *store.Order) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return fmt.Errorf("memstore: %s %s: %w", op, outTradeNo, store.ErrNotFound)
	}
	if err := fn(o); err != nil {
		return fmt.Errorf("memstore: %s %s: %w", op, outTradeNo, err)
	}
	return nil
}

// SetCheckout implements store.OrderStore.
func (s *Store) SetCheckout(ctx context.Context, outTradeNo, codeURL, payInfo string, now time.Time) error {
	return s.update(ctx, "set checkout", outTradeNo, func(o *store.Order) error {
		o.CodeURL, o.PayInfo, o.UpdatedAt = codeURL, payInfo, now
		return nil
	})
}

// Settle implements store.OrderStore.
func (s *Store) Settle(ctx context.Context, outTradeNo string, p store.Payment, now time.Time) (bool, error) {
	settled := false
	err := s.update(ctx, "settle", outTradeNo, func(o *store.Order) error {
		pending, err := canSettle(o, p)
		if pending {
			applySettle(o, p, now)
			settled = true
		}
		return err
	})
	return settled, err
}

// canSettle reports whether o is PENDING, so that p may settle it, and
// otherwise what Settle answers: nil for a repeat of the same payment.
func canSettle(o *store.Order, p store.Payment) (pending bool, err error) {
	switch {
	case o.Status == store.Pending:
		return true, nil
	case (o.Status == store.Paid || o.Status == store.Refunded) && o.TransactionID == p.TransactionID:
		return false, nil
	case o.Status == store.Paid || o.Status == store.Refunded:
		return false, fmt.Errorf("paid by another transaction: %w", store.ErrConflict)
	default:
		return false, fmt.Errorf("status %s: %w", o.Status, store.ErrConflict)
	}
}

// applySettle makes o PAID with p.
func applySettle(o *store.Order, p store.Payment, now time.Time) {
	o.Status = store.Paid
	o.TransactionID = p.TransactionID
	o.ChannelTransactionID = p.ChannelTransactionID
	o.PaidAt = p.PaidAt
	o.Money = p.Money
	o.UpdatedAt = now
}

// MarkFulfilled implements store.OrderStore.
func (s *Store) MarkFulfilled(ctx context.Context, outTradeNo string, now time.Time) error {
	return s.update(ctx, "mark fulfilled", outTradeNo, func(o *store.Order) error {
		if o.Status != store.Paid {
			return fmt.Errorf("status %s: %w", o.Status, store.ErrConflict)
		}
		if !o.Fulfilled {
			o.Fulfilled, o.FulfilledAt, o.UpdatedAt = true, now, now
		}
		return nil
	})
}

// Abandon implements store.Closer.
func (s *Store) Abandon(ctx context.Context, outTradeNo, reason string, now time.Time) error {
	return s.update(ctx, "abandon", outTradeNo, func(o *store.Order) error {
		if o.Status != store.Pending {
			return fmt.Errorf("status %s: %w", o.Status, store.ErrConflict)
		}
		if o.AbandonedAt.IsZero() {
			o.AbandonedAt, o.Reason, o.UpdatedAt = now, reason, now
		}
		return nil
	})
}

// Reverse implements store.Closer.
func (s *Store) Reverse(ctx context.Context, outTradeNo, reason string, now time.Time) error {
	return s.update(ctx, "reverse", outTradeNo, func(o *store.Order) error {
		switch {
		case o.Status == store.Reversed:
			return nil
		case o.Status == store.Pending, o.Status == store.Paid && !o.AbandonedAt.IsZero():
			o.Status, o.Reason, o.UpdatedAt = store.Reversed, reason, now
			return nil
		}
		return fmt.Errorf("status %s: %w", o.Status, store.ErrConflict)
	})
}

// Finish implements store.OrderStore.
func (s *Store) Finish(ctx context.Context, outTradeNo string, status store.Status, reason string, now time.Time) error {
	return s.update(ctx, "finish", outTradeNo, func(o *store.Order) error {
		if status != store.Failed && status != store.Closed {
			return fmt.Errorf("target status %q: %w", status, store.ErrConflict)
		}
		if o.Status != store.Pending {
			return fmt.Errorf("status %s: %w", o.Status, store.ErrConflict)
		}
		o.Status, o.Reason, o.UpdatedAt = status, reason, now
		return nil
	})
}
