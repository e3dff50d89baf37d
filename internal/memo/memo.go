// Package memo is a fixed-size memory of facts that expire: it holds at
// most its size of keys, forgets the key it learnt of longest ago to make
// room, and stops answering for a key when its time is up. Reads take a
// shared lock only and never block on anything else.
package memo

import (
	"sync"
	"time"
)

// Memo remembers values of type V by string key. It is safe for
// concurrent use.
type Memo[V any] struct {
	ttl  time.Duration
	mu   sync.RWMutex
	m    map[string]entry[V]
	ring []string // the keys in the order they were learnt; each appears once
	next int      // the ring slot the next new key takes
}

type entry[V any] struct {
	v     V
	until time.Time
}

// New returns a Memo of size keys whose entries are answered for ttl, or
// nil (no memo) for size <= 0.
func New[V any](size int, ttl time.Duration) *Memo[V] {
	if size <= 0 {
		return nil
	}
	return &Memo[V]{ttl: ttl, m: make(map[string]entry[V], size), ring: make([]string, size)}
}

// Get returns what is remembered of key, if its time is not up at now.
func (m *Memo[V]) Get(key string, now time.Time) (V, bool) {
	m.mu.RLock()
	e, ok := m.m[key]
	m.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put remembers v for key until now plus the ttl, forgetting the key
// learnt longest ago when the memo is full. A key already held keeps its
// slot, and an expired one is not removed by Get: so every key holds
// exactly one slot until it is pushed out.
func (m *Memo[V]) Put(key string, v V, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[key]; !ok {
		if old := m.ring[m.next]; old != "" {
			delete(m.m, old)
		}
		m.ring[m.next] = key
		m.next = (m.next + 1) % len(m.ring)
	}
	m.m[key] = entry[V]{v: v, until: now.Add(m.ttl)}
}

// Len returns how many keys the memo holds, expired ones included.
func (m *Memo[V]) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.m)
}
