package handler

import (
	"fmt"
	"testing"
	"time"
)

// TestPaidMemoBounded: the memo holds at most its size, forgets the
// attempt it learnt of longest ago, and a refreshed attempt keeps its one
// slot (so it neither grows the memo nor pushes another out).
func TestPaidMemoBounded(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	m := newPaidMemo(3, time.Minute)
	for i := range 3 {
		m.put(fmt.Sprint("A", i), paidFact{amount: int64(i)}, now)
	}
	m.put("A1", paidFact{amount: 11}, now) // refresh: no new slot
	m.put("A3", paidFact{amount: 3}, now)  // evicts A0, the oldest
	if _, ok := m.get("A0", now); ok {
		t.Error("A0 still remembered after a fourth attempt")
	}
	for otn, want := range map[string]int64{"A1": 11, "A2": 2, "A3": 3} {
		if f, ok := m.get(otn, now); !ok || f.amount != want {
			t.Errorf("%s: got %v %v, want amount %d", otn, f.amount, ok, want)
		}
	}
	if len(m.m) != 3 {
		t.Errorf("memo holds %d attempts, want 3", len(m.m))
	}
	for i := range 100 {
		m.put(fmt.Sprint("B", i), paidFact{}, now)
	}
	if len(m.m) != 3 {
		t.Errorf("after 100 more: memo holds %d attempts, want 3", len(m.m))
	}
	if _, ok := m.get("B99", now.Add(time.Minute)); ok {
		t.Error("an entry is still answered when its time is up")
	}
	if newPaidMemo(0, time.Minute) != nil || newPaidMemo(-1, time.Minute) != nil {
		t.Error("a memo of size <= 0 must be none")
	}
}
