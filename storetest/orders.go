package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/google/go-cmp/cmp"
)

var orderTests = []orderTest{
	{"CreateGet", testCreateGet},
}

// base is deliberately not UTC and carries nanoseconds, so a store that
// drops the location or the sub-second part is caught.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("GMT+8", 8*3600))

// at returns base plus n seconds.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }

// sameInstant compares times as instants to within a microsecond, which is
// what a SQL timestamp keeps; the zero time only equals the zero time.
var sameInstant = cmp.Comparer(func(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond
})

// newOrder returns a PENDING attempt n of business order biz.
func newOrder(biz string, n int) *store.Order {
	return &store.Order{
		OutTradeNo: fmt.Sprintf("%sA%03d", biz, n),
		BusinessID: biz,
		Attempt:    n,
		MchID:      "755437000006",
		Channel:    model.PayWeChat,
		TradeType:  "NATIVE",
		Version:    model.V2,
		Amount:     1999,
		Status:     store.Pending,
		CreatedAt:  at(0),
		UpdatedAt:  at(0),
	}
}

func create(t testing.TB, s store.OrderStore, o *store.Order) {
	t.Helper()
	if err := s.Create(context.Background(), o); err != nil {
		t.Fatalf("Create(%s): got error %v, want nil", o.OutTradeNo, err)
	}
}

func get(t testing.TB, s store.OrderStore, outTradeNo string) *store.Order {
	t.Helper()
	o, err := s.Get(context.Background(), outTradeNo)
	if err != nil {
		t.Fatalf("Get(%s): got error %v, want nil", outTradeNo, err)
	}
	if o == nil {
		t.Fatalf("Get(%s): got nil order and nil error", outTradeNo)
	}
	return o
}

// wantOrder fails t unless the stored attempt equals want.
func wantOrder(t testing.TB, s store.OrderStore, want *store.Order) {
	t.Helper()
	got := get(t, s, want.OutTradeNo)
	if diff := cmp.Diff(want, got, sameInstant); diff != "" {
		t.Errorf("Get(%s) mismatch (-want +got):\n%s", want.OutTradeNo, diff)
	}
}

func wantErr(t testing.TB, op string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", op, err, target)
	}
}

func testCreateGet(t *testing.T, s store.OrderStore) {
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	wantOrder(t, s, newOrder("BIZ1", 1))
}
