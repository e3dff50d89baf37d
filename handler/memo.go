package handler

import (
	"sync"
	"time"
)

// paidMemo remembers, for a bounded number of attempts and a bounded
// time, what the store said about an attempt whose payment is settled and
// fulfilled: its merchant, amount and transaction id, and the key that
// verified the notification that found it so. A copy of that notification
// (the gateway sends each several times) can then be answered the way the
// store would answer it, Duplicate, without reading the store and without
// the goroutine that guards a store call (G5): no call it makes can block.
//
// It is sound on any number of instances because what it remembers never
// stops being true: PAID, and PAID and fulfilled, are final in every
// store (a refund moves PAID to REFUNDED, which the Settler answers
// Duplicate too). It only ever saves a store read; anything that does not
// match the remembered facts exactly goes the whole way.
type paidMemo struct {
	ttl  time.Duration
	mu   sync.RWMutex
	m    map[string]paidFact
	ring []string // out_trade_no in insertion order; each appears once
	next int      // the ring slot the next new attempt takes
}

// paidFact is what the store held when the memo learnt of an attempt.
type paidFact struct {
	mchID, transactionID string
	amount               int64
	key                  string    // the key that verified; the order's kind of key
	inboxID              int64     // the kept notification copies are counted on; 0: none
	until                time.Time // after this the store is asked again
}

// defaultMemoSize and memoTTL are NotifyConfig.DuplicateMemo's defaults.
const (
	defaultMemoSize = 4096
	memoTTL         = 10 * time.Minute
)

// newPaidMemo returns a memo of size attempts, or nil (no memo) for size <= 0.
func newPaidMemo(size int, ttl time.Duration) *paidMemo {
	if size <= 0 {
		return nil
	}
	return &paidMemo{ttl: ttl, m: make(map[string]paidFact, size), ring: make([]string, size)}
}

// get returns what is remembered of outTradeNo, if it has not expired.
func (m *paidMemo) get(outTradeNo string, now time.Time) (paidFact, bool) {
	m.mu.RLock()
	f, ok := m.m[outTradeNo]
	m.mu.RUnlock()
	if !ok || !now.Before(f.until) {
		return paidFact{}, false
	}
	return f, true
}

// put remembers f for outTradeNo until now+ttl, forgetting the attempt
// remembered longest ago when the memo is full. An expired entry is not
// removed by get: it keeps its slot until it is refreshed or evicted, so
// that every out_trade_no holds exactly one slot.
func (m *paidMemo) put(outTradeNo string, f paidFact, now time.Time) {
	f.until = now.Add(m.ttl)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[outTradeNo]; !ok {
		if old := m.ring[m.next]; old != "" {
			delete(m.m, old)
		}
		m.ring[m.next] = outTradeNo
		m.next = (m.next + 1) % len(m.ring)
	}
	m.m[outTradeNo] = f
}
