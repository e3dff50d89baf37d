package memo

import (
	"fmt"
	"testing"
	"time"
)

// TestBounded: the memo holds at most its size, forgets the key it learnt
// of longest ago, and a refreshed key keeps its one slot (so it neither
// grows the memo nor pushes another out). Plants killed: a refresh that
// takes a new slot, an eviction of the newest, an entry answered when its
// time is up.
func TestBounded(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	m := New[int](3, time.Minute)
	for i := range 3 {
		m.Put(fmt.Sprint("A", i), i, now)
	}
	m.Put("A1", 11, now) // refresh: no new slot
	m.Put("A3", 3, now)  // evicts A0, the oldest
	if _, ok := m.Get("A0", now); ok {
		t.Error("A0 still remembered after a fourth key")
	}
	for k, want := range map[string]int{"A1": 11, "A2": 2, "A3": 3} {
		if v, ok := m.Get(k, now); !ok || v != want {
			t.Errorf("%s: got %v %v, want %d", k, v, ok, want)
		}
	}
	if m.Len() != 3 {
		t.Errorf("memo holds %d keys, want 3", m.Len())
	}
	for i := range 100 {
		m.Put(fmt.Sprint("B", i), i, now)
	}
	if m.Len() != 3 {
		t.Errorf("after 100 more: memo holds %d keys, want 3", m.Len())
	}
	if v, ok := m.Get("B99", now.Add(time.Minute-time.Nanosecond)); !ok || v != 99 {
		t.Errorf("B99 just before its time is up: got %v %v, want 99", v, ok)
	}
	if _, ok := m.Get("B99", now.Add(time.Minute)); ok {
		t.Error("an entry is still answered when its time is up")
	}
	if New[int](0, time.Minute) != nil || New[int](-1, time.Minute) != nil {
		t.Error("a memo of size <= 0 must be none")
	}
}
