package storetest_test

import (
	"context"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/cypaykit/kit/store"
)

// Refund flaws: each breaks one promise of store.RefundStore.
const (
	// racyReserve sums the reservations, yields, then inserts: two
	// refunds can both fit in what only one of them fits in.
	racyReserve flaw = "racy-reserve"
	// noIdempotency ignores the idempotency key.
	noIdempotency flaw = "no-idempotency"
	// failKeepsReserve counts FAILED refunds as reserved.
	failKeepsReserve flaw = "fail-keeps-reserve"
	// doubleClaim hands out refunds already claimed by someone else.
	doubleClaim flaw = "double-claim"
	// staysPaid never marks a fully refunded attempt REFUNDED.
	staysPaid flaw = "stays-paid"
	// finalNotSticky lets a final refund change state again.
	finalNotSticky flaw = "final-not-sticky"
	// onlySuccessFinal guards SUCCESS as final, but lets FAIL and
	// CHANGE change state again.
	onlySuccessFinal flaw = "only-success-final"
	// anyStatus refunds CLOSED and FAILED attempts without AfterClose.
	anyStatus flaw = "any-status"
)

// toyRefunds is the toy's refund side; it shares the toy's lock.
type toyRefunds struct {
	refunds map[string]*store.Refund
	order   map[string][]string
	keys    map[string]string
}

func (s *toy) rf() *toyRefunds {
	if s.refundData == nil {
		s.refundData = &toyRefunds{refunds: map[string]*store.Refund{}, order: map[string][]string{}, keys: map[string]string{}}
	}
	return s.refundData
}

func (s *toy) token() string {
	s.seq++
	return "tok" + strconv.Itoa(s.seq)
}

func outRefund(r *store.Refund, withToken bool) *store.Refund {
	c := *r
	if !withToken {
		c.ClaimToken = ""
	}
	return &c
}

func (s *toy) totals(outTradeNo string) store.RefundTotals {
	var t store.RefundTotals
	for _, no := range s.rf().order[outTradeNo] {
		r := s.rf().refunds[no]
		if r.State != store.RefundFailed || s.flaw == failKeepsReserve {
			t.Reserved += r.Amount
		}
		if r.State == store.RefundSucceeded {
			t.Refunded += r.Amount
		}
	}
	return t
}

func (s *toy) ReserveRefund(ctx context.Context, r *store.Refund, lease time.Duration, now time.Time) (*store.Refund, bool, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.rf()
	if no, ok := d.keys[r.IdempotencyKey]; ok && r.IdempotencyKey != "" && s.flaw != noIdempotency {
		old := d.refunds[no]
		if old.OutTradeNo != r.OutTradeNo || old.Amount != r.Amount {
			return nil, false, store.ErrKeyReused
		}
		return outRefund(old, false), false, nil
	}
	o, ok := s.orders[r.OutTradeNo]
	if !ok {
		return nil, false, store.ErrNotFound
	}
	if !store.Refundable(o.Status, r.AfterClose) && !(s.flaw == anyStatus && o.Status != store.Pending) {
		return nil, false, store.ErrNotRefundable
	}
	reserved := s.totals(r.OutTradeNo).Reserved
	if s.flaw == racyReserve {
		s.mu.Unlock()
		runtime.Gosched()
		time.Sleep(time.Millisecond)
		s.mu.Lock()
	}
	if r.Amount <= 0 || r.Amount > o.Amount-reserved {
		return nil, false, store.ErrRefundAmount
	}
	c := *r
	c.Seq = len(d.order[r.OutTradeNo]) + 1
	c.OutRefundNo = store.RefundNo(r.OutTradeNo, c.Seq)
	c.BusinessID, c.MchID, c.Channel, c.Version, c.OrderAmount = o.BusinessID, o.MchID, o.Channel, o.Version, o.Amount
	c.State = store.RefundPending
	c.ClaimToken, c.ClaimUntil = s.token(), now.Add(lease)
	d.refunds[c.OutRefundNo] = &c
	d.order[r.OutTradeNo] = append(d.order[r.OutTradeNo], c.OutRefundNo)
	if c.IdempotencyKey != "" {
		d.keys[c.IdempotencyKey] = c.OutRefundNo
	}
	return outRefund(&c, true), true, nil
}

func (s *toy) GetRefund(ctx context.Context, outRefundNo string) (*store.Refund, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rf().refunds[outRefundNo]
	if !ok {
		return nil, store.ErrNotFound
	}
	return outRefund(r, false), nil
}

func (s *toy) ListRefunds(ctx context.Context, outTradeNo string) ([]*store.Refund, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*store.Refund{}
	for _, no := range s.rf().order[outTradeNo] {
		out = append(out, outRefund(s.rf().refunds[no], false))
	}
	return out, nil
}

func (s *toy) RefundTotals(ctx context.Context, outTradeNo string) (store.RefundTotals, error) {
	if err := s.ctxErr(ctx); err != nil {
		return store.RefundTotals{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totals(outTradeNo), nil
}

func (s *toy) ClaimRefunds(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Refund, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*store.Refund
	for _, r := range s.rf().refunds {
		free := r.ClaimToken == "" || !r.ClaimUntil.After(now) || s.flaw == doubleClaim
		if !r.State.Final() && !r.NextDue.After(now) && free {
			due = append(due, r)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].NextDue.Equal(due[j].NextDue) {
			return due[i].NextDue.Before(due[j].NextDue)
		}
		return due[i].OutRefundNo < due[j].OutRefundNo
	})
	if len(due) > limit {
		due = due[:limit]
	}
	out := []*store.Refund{}
	for _, r := range due {
		r.ClaimToken, r.ClaimUntil = s.token(), now.Add(lease)
		out = append(out, outRefund(r, true))
	}
	return out, nil
}

func (s *toy) UpdateRefund(ctx context.Context, outRefundNo, token string, u store.RefundUpdate, now time.Time) (*store.Refund, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rf().refunds[outRefundNo]
	if !ok {
		return nil, store.ErrNotFound
	}
	// The flaws bend the guards store.Refund.Apply keeps: a final state
	// that does not hold (made in flight again before Apply sees it), and
	// a claim nobody checks (one made up for the call, then put back).
	was, held, until := r.State, r.ClaimToken, r.ClaimUntil
	if !store.RefundAllowed(r.State, u.State) && (s.flaw == finalNotSticky || s.flaw == onlySuccessFinal && r.State != store.RefundSucceeded) {
		r.State = store.RefundProcessing
	}
	if s.flaw == unfenced {
		token, r.ClaimToken, r.ClaimUntil = "unfenced", "unfenced", now.Add(time.Nanosecond)
	}
	changed, err := r.Apply(u, token, now)
	if r.ClaimToken == "unfenced" {
		r.ClaimToken, r.ClaimUntil = held, until
	}
	if err != nil {
		r.State = was
		return nil, err
	}
	if !changed {
		return outRefund(r, false), nil
	}
	if o := s.orders[r.OutTradeNo]; o != nil && s.flaw != staysPaid && r.State == store.RefundSucceeded &&
		o.Status == store.Paid && s.totals(r.OutTradeNo).Refunded >= o.Amount {
		o.Status, o.UpdatedAt = store.Refunded, now
	}
	return outRefund(r, false), nil
}
