package memstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cypaykit/kit/store"
)

// cloneRefund copies r; withToken false drops the claim token, which only
// the claimer may see.
func cloneRefund(r *store.Refund, withToken bool) *store.Refund {
	c := *r
	if !withToken {
		c.ClaimToken = ""
	}
	return &c
}

// ReserveRefund implements store.RefundStore: the check of the attempt,
// the sum of its refunds and the insert happen under one lock.
func (s *Store) ReserveRefund(ctx context.Context, r *store.Refund, lease time.Duration, now time.Time) (*store.Refund, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if r == nil {
		return nil, false, errors.New("memstore: reserve refund: nil refund")
	}
	tok, err := newToken()
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.IdempotencyKey != "" {
		if no, ok := s.byKey[r.IdempotencyKey]; ok {
			old := s.refunds[no]
			if old.OutTradeNo != r.OutTradeNo || old.Amount != r.Amount {
				return nil, false, fmt.Errorf("memstore: reserve refund of %s: %w", r.OutTradeNo, store.ErrKeyReused)
			}
			return cloneRefund(old, false), false, nil
		}
	}
	o, ok := s.orders[r.OutTradeNo]
	if !ok {
		return nil, false, fmt.Errorf("memstore: reserve refund of %s: %w", r.OutTradeNo, store.ErrNotFound)
	}
	if !store.Refundable(o.Status, r.AfterClose) {
		return nil, false, fmt.Errorf("memstore: reserve refund of %s: status %s: %w", r.OutTradeNo, o.Status, store.ErrNotRefundable)
	}
	t := s.totalsLocked(r.OutTradeNo)
	if r.Amount <= 0 || r.Amount > o.Amount-t.Reserved {
		return nil, false, fmt.Errorf("memstore: reserve refund of %s: %d fen with %d of %d reserved: %w",
			r.OutTradeNo, r.Amount, t.Reserved, o.Amount, store.ErrRefundAmount)
	}
	c := cloneRefund(r, true)
	c.Seq = len(s.byAttempt[r.OutTradeNo]) + 1
	c.OutRefundNo = store.RefundNo(r.OutTradeNo, c.Seq)
	if _, dup := s.refunds[c.OutRefundNo]; dup {
		return nil, false, fmt.Errorf("memstore: reserve refund %s: %w", c.OutRefundNo, store.ErrExists)
	}
	c.BusinessID, c.MchID, c.Channel, c.Version, c.OrderAmount = o.BusinessID, o.MchID, o.Channel, o.Version, o.Amount
	c.State, c.RefundID, c.RefundedAt, c.Tries = store.RefundPending, "", time.Time{}, 0
	c.ClaimToken, c.ClaimUntil = tok, now.Add(lease)
	s.refunds[c.OutRefundNo] = c
	s.byAttempt[r.OutTradeNo] = append(s.byAttempt[r.OutTradeNo], c.OutRefundNo)
	if c.IdempotencyKey != "" {
		s.byKey[c.IdempotencyKey] = c.OutRefundNo
	}
	return cloneRefund(c, true), true, nil
}

// totalsLocked sums an attempt's refunds; s.mu is held.
func (s *Store) totalsLocked(outTradeNo string) store.RefundTotals {
	var t store.RefundTotals
	for _, no := range s.byAttempt[outTradeNo] {
		r := s.refunds[no]
		if r.State != store.RefundFailed {
			t.Reserved += r.Amount
		}
		if r.State == store.RefundSucceeded {
			t.Refunded += r.Amount
		}
	}
	return t
}

// GetRefund implements store.RefundStore.
func (s *Store) GetRefund(ctx context.Context, outRefundNo string) (*store.Refund, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[outRefundNo]
	if !ok {
		return nil, fmt.Errorf("memstore: get refund %s: %w", outRefundNo, store.ErrNotFound)
	}
	return cloneRefund(r, false), nil
}

// ListRefunds implements store.RefundStore.
func (s *Store) ListRefunds(ctx context.Context, outTradeNo string) ([]*store.Refund, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*store.Refund{}
	for _, no := range s.byAttempt[outTradeNo] {
		out = append(out, cloneRefund(s.refunds[no], false))
	}
	return out, nil
}

// RefundTotals implements store.RefundStore.
func (s *Store) RefundTotals(ctx context.Context, outTradeNo string) (store.RefundTotals, error) {
	if err := ctx.Err(); err != nil {
		return store.RefundTotals{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totalsLocked(outTradeNo), nil
}

// ClaimRefunds implements store.RefundStore. It scans every refund: fine
// for the volumes an in-memory store holds.
func (s *Store) ClaimRefunds(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Refund, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*store.Refund
	for _, r := range s.refunds {
		if !r.State.Final() && !r.NextDue.After(now) && (r.ClaimToken == "" || !r.ClaimUntil.After(now)) {
			due = append(due, r)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].NextDue.Equal(due[j].NextDue) {
			return due[i].NextDue.Before(due[j].NextDue)
		}
		return due[i].OutRefundNo < due[j].OutRefundNo
	})
	if len(due) > max(limit, 0) {
		due = due[:max(limit, 0)]
	}
	out := []*store.Refund{}
	for _, r := range due {
		tok, err := newToken()
		if err != nil {
			return nil, err
		}
		r.ClaimToken, r.ClaimUntil = tok, now.Add(lease)
		out = append(out, cloneRefund(r, true))
	}
	return out, nil
}

// UpdateRefund implements store.RefundStore.
func (s *Store) UpdateRefund(ctx context.Context, outRefundNo, token string, u store.RefundUpdate, now time.Time) (*store.Refund, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[outRefundNo]
	if !ok {
		return nil, fmt.Errorf("memstore: update refund %s: %w", outRefundNo, store.ErrNotFound)
	}
	changed, err := r.Apply(u, token, now)
	if err != nil {
		return nil, fmt.Errorf("memstore: update refund %s: %w", outRefundNo, err)
	}
	if !changed {
		return cloneRefund(r, false), nil
	}
	if r.State == store.RefundSucceeded {
		if o := s.orders[r.OutTradeNo]; o != nil && o.Status == store.Paid && s.totalsLocked(r.OutTradeNo).Refunded >= o.Amount {
			o.Status, o.UpdatedAt = store.Refunded, now
		}
	}
	return cloneRefund(r, false), nil
}
