package storetest_test

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
)

// flaw names one way to get a store or locker wrong.
type flaw string

const (
	// racySettle reads, checks PENDING, yields, then writes: the classic
	// check-then-act race a store without a compare-and-set has.
	racySettle flaw = "racy-settle"
	// lastWriterWins overwrites a PAID attempt's transaction.
	lastWriterWins flaw = "last-writer-wins"
	// aliasing stores the caller's *Order and hands out its own pointers.
	aliasing flaw = "aliasing"
	// lostUpdate changes a copy in SetCheckout and MarkFulfilled and drops it.
	lostUpdate flaw = "lost-update"
	// ignoresContext never looks at ctx.
	ignoresContext flaw = "ignores-context"
	// noExclusion hands every caller the lease at once.
	noExclusion flaw = "no-exclusion"
	// releaseIgnoresToken frees the lease whatever token is given.
	releaseIgnoresToken flaw = "release-ignores-token"
	// noExpiry keeps a lease until it is released, whatever its TTL.
	noExpiry flaw = "no-expiry"
	// tryIgnoresHolder hands out a held lease from TryAcquire.
	tryIgnoresHolder flaw = "try-ignores-holder"
	// extendRefuses answers ErrNotHeld to every Extend.
	extendRefuses flaw = "extend-refuses"
	// extendIgnoresToken extends the lease whatever token is given.
	extendIgnoresToken flaw = "extend-ignores-token"
	// extendNoop reports success and leaves the expiry as it was.
	extendNoop flaw = "extend-noop"
	// claimLeavesDue hands out due attempts without moving their due time,
	// so every caller gets them.
	claimLeavesDue flaw = "claim-leaves-due"
	// racyClaim reads the due attempts, yields, then marks them: two
	// callers can take the same one.
	racyClaim flaw = "racy-claim"
	// claimNeverExpires leases a claim for ever: a dead holder's work is
	// never taken over.
	claimNeverExpires flaw = "claim-never-expires"
	// unfenced lets any token reschedule an attempt or record a refund's
	// outcome.
	unfenced flaw = "unfenced"
	// claimByKey hands out due attempts by key, not by how overdue they
	// are.
	claimByKey flaw = "claim-by-key"
	// dropsBuyer: Create does not keep Order.Buyer, as a store whose
	// schema lacks the column would.
	dropsBuyer flaw = "drops-buyer"
	// dropsMoney: Settle does not keep Payment.Money, as a store that
	// never learnt the money facts would.
	dropsMoney flaw = "drops-money"
	// repeatRewritesMoney: a repeated Settle with the same transaction
	// replaces the money facts the first one recorded.
	repeatRewritesMoney flaw = "repeat-rewrites-money"
	// processLocal keeps leases per instance, as a locker in the
	// process's memory does: a second instance shares none of them.
	processLocal flaw = "process-local"
	// leaseWithoutSettle: SettleAndTryAcquire takes the lease even when
	// the call did not settle the attempt.
	leaseWithoutSettle flaw = "lease-without-settle"
	// settleTakesHeld: SettleAndTryAcquire takes the lease from its holder.
	settleTakesHeld flaw = "settle-takes-held"
	// releaseAnyToken: MarkFulfilledAndRelease frees the lease whatever
	// token is given.
	releaseAnyToken flaw = "release-any-token"
	// releaseOnConflict: MarkFulfilledAndRelease frees the lease even when
	// the fulfilment was refused.
	releaseOnConflict flaw = "release-on-conflict"
)

// toy is a deliberately simple OrderStore and Locker that is correct until
// it is given a flaw. TestToyIsCorrect runs the suite on a flawless toy, so
// when a flawed one fails, the flaw is the reason.
type toy struct {
	flaw flaw

	mu     sync.Mutex
	orders map[string]*store.Order
	leases map[string]toyLease
	seq    int

	refundData *toyRefunds
	claims     map[string]string // OutTradeNo -> token of its latest claim
	history    *toyHistory
}

type toyLease struct {
	token  string
	expiry time.Time
}

func newToy(f flaw) *toy {
	return &toy{flaw: f, orders: map[string]*store.Order{}, leases: map[string]toyLease{}, claims: map[string]string{}}
}

// toyPeer is a second instance's view of a toy: another value, the same
// data.
type toyPeer struct{ *toy }

// peer opens a second instance of s's Locker (storetest.Harness.Peer);
// under processLocal it shares nothing with s.
func (s *toy) peer(*testing.T) store.Locker {
	if s.flaw == processLocal {
		return newToy("")
	}
	return toyPeer{s}
}

func (s *toy) ctxErr(ctx context.Context) error {
	if s.flaw == ignoresContext {
		return nil
	}
	return ctx.Err()
}

func (s *toy) out(o *store.Order) *store.Order {
	if s.flaw == aliasing {
		return o
	}
	c := *o
	return &c
}

func (s *toy) Create(ctx context.Context, o *store.Order) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orders[o.OutTradeNo]; ok {
		return store.ErrExists
	}
	if s.flaw == aliasing {
		s.orders[o.OutTradeNo] = o
	} else {
		c := *o
		if s.flaw == dropsBuyer {
			c.Buyer = ""
		}
		s.orders[o.OutTradeNo] = &c
	}
	return nil
}

func (s *toy) Get(ctx context.Context, outTradeNo string) (*store.Order, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return nil, store.ErrNotFound
	}
	return s.out(o), nil
}

func (s *toy) list(ctx context.Context, keep func(*store.Order) bool, less func(a, b *store.Order) bool, limit int) ([]*store.Order, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*store.Order{}
	for _, o := range s.orders {
		if keep(o) {
			out = append(out, s.out(o))
		}
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i], out[j]) })
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *toy) ListByBusinessID(ctx context.Context, businessID string) ([]*store.Order, error) {
	return s.list(ctx,
		func(o *store.Order) bool { return o.BusinessID == businessID },
		func(a, b *store.Order) bool { return a.Attempt < b.Attempt }, -1)
}

// change applies fn to the stored attempt (or, with lostUpdate, to a copy).
func (s *toy) change(ctx context.Context, outTradeNo string, fn func(o *store.Order) error) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return store.ErrNotFound
	}
	if s.flaw == lostUpdate {
		c := *o
		o = &c
	}
	return fn(o)
}

func (s *toy) SetCheckout(ctx context.Context, outTradeNo, codeURL, payInfo string, now time.Time) error {
	return s.change(ctx, outTradeNo, func(o *store.Order) error {
		o.CodeURL, o.PayInfo, o.UpdatedAt = codeURL, payInfo, now
		return nil
	})
}

func (s *toy) MarkFulfilled(ctx context.Context, outTradeNo string, now time.Time) error {
	return s.change(ctx, outTradeNo, func(o *store.Order) error {
		if o.Status != store.Paid {
			return store.ErrConflict
		}
		if !o.Fulfilled {
			o.Fulfilled, o.FulfilledAt, o.UpdatedAt = true, now, now
		}
		return nil
	})
}

func (s *toy) Finish(ctx context.Context, outTradeNo string, status store.Status, reason string, now time.Time) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	switch {
	case !ok:
		return store.ErrNotFound
	case o.Status != store.Pending, status != store.Failed && status != store.Closed:
		return store.ErrConflict
	}
	o.Status, o.Reason, o.UpdatedAt = status, reason, now
	return nil
}

func (s *toy) Settle(ctx context.Context, outTradeNo string, p store.Payment, now time.Time) (bool, error) {
	if err := s.ctxErr(ctx); err != nil {
		return false, err
	}
	s.mu.Lock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		s.mu.Unlock()
		return false, store.ErrNotFound
	}
	status, tx := o.Status, o.TransactionID
	if s.flaw == racySettle {
		// Check, then let the other callers check too, then act.
		s.mu.Unlock()
		runtime.Gosched()
		time.Sleep(time.Millisecond)
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	switch {
	case (status == store.Paid || status == store.Refunded) && tx == p.TransactionID:
		if s.flaw == repeatRewritesMoney {
			o.Money = p.Money
		}
		return false, nil
	case status == store.Paid && s.flaw == lastWriterWins:
	case status != store.Pending:
		return false, store.ErrConflict
	}
	o.Status = store.Paid
	o.TransactionID, o.ChannelTransactionID, o.PaidAt = p.TransactionID, p.ChannelTransactionID, p.PaidAt
	if s.flaw != dropsMoney {
		o.Money = p.Money
	}
	o.UpdatedAt = now
	return true, nil
}

// Acquire polls: a toy may, a real locker should not.
func (s *toy) Acquire(ctx context.Context, name string, ttl time.Duration) (string, error) {
	if err := s.ctxErr(ctx); err != nil {
		return "", err
	}
	for {
		if token, ok := s.take(name, ttl, s.flaw == noExclusion); ok {
			return token, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// take takes name if it is free (or, with force, anyway).
func (s *toy) take(name string, ttl time.Duration, force bool) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, held := s.leases[name]
	if held && s.flaw != noExpiry && !time.Now().Before(l.expiry) {
		held = false
	}
	if held && !force {
		return "", false
	}
	s.seq++
	token := strconv.Itoa(s.seq)
	s.leases[name] = toyLease{token: token, expiry: time.Now().Add(ttl)}
	return token, true
}

func (s *toy) TryAcquire(ctx context.Context, name string, ttl time.Duration) (string, bool, error) {
	if err := s.ctxErr(ctx); err != nil {
		return "", false, err
	}
	token, ok := s.take(name, ttl, s.flaw == noExclusion || s.flaw == tryIgnoresHolder)
	return token, ok, nil
}

func (s *toy) Extend(ctx context.Context, name, token string, ttl time.Duration) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leases[name]
	switch {
	case s.flaw == extendRefuses:
		return fmt.Errorf("toy: %w", store.ErrNotHeld)
	case s.flaw == extendIgnoresToken && ok:
	case !ok || l.token != token || (s.flaw != noExpiry && !time.Now().Before(l.expiry)):
		return fmt.Errorf("toy: %w", store.ErrNotHeld)
	}
	if s.flaw != extendNoop {
		l.expiry = time.Now().Add(ttl)
		s.leases[name] = l
	}
	return nil
}

func (s *toy) Release(ctx context.Context, name, token string) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leases[name]
	if s.flaw == releaseIgnoresToken {
		if !ok {
			return fmt.Errorf("toy: %w", store.ErrNotHeld)
		}
		delete(s.leases, name)
		return nil
	}
	if !ok || l.token != token || (s.flaw != noExpiry && !time.Now().Before(l.expiry)) {
		return fmt.Errorf("toy: %w", store.ErrNotHeld)
	}
	delete(s.leases, name)
	return nil
}

func toyKind(k store.Kind, o *store.Order) bool {
	switch k {
	case store.KindQuery:
		return o.Status == store.Pending
	case store.KindFulfil:
		return o.Status == store.Paid && !o.Fulfilled
	}
	return false
}

func (s *toy) Claim(ctx context.Context, r store.ClaimRequest) ([]store.Claim, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	if r.Lease < time.Millisecond {
		return nil, store.ErrLease
	}
	if r.Kind != store.KindQuery && r.Kind != store.KindFulfil {
		return nil, fmt.Errorf("toy: unknown kind %q", r.Kind)
	}
	s.mu.Lock()
	var due []*store.Order
	for _, o := range s.orders {
		if toyKind(r.Kind, o) && !o.NextDue.After(r.Now) && (r.CreatedAfter.IsZero() || o.CreatedAt.After(r.CreatedAfter)) {
			due = append(due, o)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if s.flaw != claimByKey && !due[i].NextDue.Equal(due[j].NextDue) {
			return due[i].NextDue.Before(due[j].NextDue)
		}
		return due[i].OutTradeNo < due[j].OutTradeNo
	})
	if len(due) > max(r.Limit, 0) {
		due = due[:max(r.Limit, 0)]
	}
	if s.flaw == racyClaim {
		s.mu.Unlock()
		runtime.Gosched()
		time.Sleep(time.Millisecond)
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	s.seq++
	token := "c" + strconv.Itoa(s.seq)
	out := []store.Claim{}
	for _, o := range due {
		c := store.Claim{Kind: r.Kind, Key: o.OutTradeNo, Due: o.NextDue, Token: token}
		switch s.flaw {
		case claimLeavesDue:
		case claimNeverExpires:
			o.NextDue = r.Now.Add(100 * 365 * 24 * time.Hour)
		default:
			o.NextDue = r.Now.Add(r.Lease)
		}
		s.claims[o.OutTradeNo] = token
		c.Order = s.out(o)
		out = append(out, c)
	}
	return out, nil
}

func (s *toy) Reschedule(ctx context.Context, c store.Claim, next time.Time) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[c.Key]
	if !ok {
		return store.ErrNotFound
	}
	if s.flaw != unfenced && (c.Token == "" || s.claims[c.Key] != c.Token) {
		return store.ErrNotHeld
	}
	delete(s.claims, c.Key)
	o.NextDue = next
	return nil
}

func (s *toy) SettleAndTryAcquire(ctx context.Context, outTradeNo string, p store.Payment, now time.Time, name string, ttl time.Duration) (bool, string, bool, error) {
	settled, err := s.Settle(ctx, outTradeNo, p, now)
	if err != nil || (!settled && s.flaw != leaseWithoutSettle) {
		return settled, "", false, err
	}
	token, ok := s.take(name, ttl, s.flaw == settleTakesHeld)
	return settled, token, ok, nil
}

func (s *toy) MarkFulfilledAndRelease(ctx context.Context, outTradeNo string, now time.Time, name, token string) error {
	err := s.MarkFulfilled(ctx, outTradeNo, now)
	if err != nil && s.flaw != releaseOnConflict {
		return err
	}
	if s.flaw == releaseAnyToken || s.flaw == releaseOnConflict {
		s.mu.Lock()
		delete(s.leases, name)
		s.mu.Unlock()
		return err
	}
	return s.Release(ctx, name, token)
}
