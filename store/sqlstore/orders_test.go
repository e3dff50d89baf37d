package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
)

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("GMT+8", 8*3600))

func order(biz string, n int) *store.Order {
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
		CreatedAt:  t0,
		UpdatedAt:  t0,
	}
}

func create(t testing.TB, s store.OrderStore, o *store.Order) {
	t.Helper()
	if err := s.Create(context.Background(), o); err != nil {
		t.Fatalf("Create(%s): got %v, want nil", o.OutTradeNo, err)
	}
}

func get(t testing.TB, s store.OrderStore, outTradeNo string) *store.Order {
	t.Helper()
	o, err := s.Get(context.Background(), outTradeNo)
	if err != nil {
		t.Fatalf("Get(%s): got %v, want nil", outTradeNo, err)
	}
	return o
}

// TestUniqueAttempt: one business order cannot have two attempts with the
// same number, whatever their out_trade_no.
func TestUniqueAttempt(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		s := newStore(t, tg, db)
		create(t, s, order("BIZU", 1))
		dup := order("BIZU", 1)
		dup.OutTradeNo = "OTHERNO0001"
		if err := s.Create(context.Background(), dup); !errors.Is(err, store.ErrExists) {
			t.Fatalf("Create with a taken (business_id, attempt): got %v, want ErrExists", err)
		}
	})
}

// TestKeysCaseSensitive: out_trade_no is compared byte for byte, as the
// gateway does, even on MySQL whose default collation ignores case.
func TestKeysCaseSensitive(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		s := newStore(t, tg, db)
		upper, lower := order("CASE", 1), order("case", 1)
		lower.Amount = 1
		create(t, s, upper)
		create(t, s, lower)
		for _, want := range []*store.Order{upper, lower} {
			if got := get(t, s, want.OutTradeNo); got.OutTradeNo != want.OutTradeNo || got.Amount != want.Amount {
				t.Errorf("Get(%s): got %s amount %d, want %s amount %d",
					want.OutTradeNo, got.OutTradeNo, got.Amount, want.OutTradeNo, want.Amount)
			}
		}
		if _, err := s.Get(context.Background(), "Case"+"A001"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(CaseA001): got %v, want ErrNotFound", err)
		}
	})
}

// TestTimesExact: times come back as the same instant truncated to the
// microsecond, in UTC, and zero stays zero, including far from 1970.
func TestTimesExact(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		s := newStore(t, tg, db)
		tests := []struct {
			name string
			at   time.Time
		}{
			{"zero", time.Time{}},
			{"sub-microsecond", t0},
			{"before 1970", time.Date(1901, 12, 13, 20, 45, 52, 999999000, time.UTC)},
			{"far future", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				o := order(fmt.Sprintf("TIME%d", i), 1)
				o.Status, o.TransactionID = store.Paid, "4200000001"
				o.CreatedAt, o.UpdatedAt, o.PaidAt, o.FulfilledAt = tc.at, tc.at, tc.at, tc.at
				create(t, s, o)
				got := get(t, s, o.OutTradeNo)
				want := tc.at.Truncate(time.Microsecond).UTC()
				if tc.at.IsZero() {
					want = time.Time{}
				}
				for name, g := range map[string]time.Time{
					"CreatedAt": got.CreatedAt, "UpdatedAt": got.UpdatedAt,
					"PaidAt": got.PaidAt, "FulfilledAt": got.FulfilledAt,
				} {
					if g != want {
						t.Errorf("%s: got %v, want %v", name, g, want)
					}
				}
			})
		}
	})
}

// TestAmountExtremes: amounts are BIGINT fen, exact at both ends.
func TestAmountExtremes(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		s := newStore(t, tg, db)
		for i, amount := range []int64{1, 1<<53 + 1, 1<<63 - 1} {
			o := order(fmt.Sprintf("AMT%d", i), 1)
			o.Amount = amount
			create(t, s, o)
			if got := get(t, s, o.OutTradeNo).Amount; got != amount {
				t.Errorf("Amount: got %d, want %d", got, amount)
			}
		}
	})
}

// TestClosedDatabase: once the database is gone every method returns an
// error; none reports success, and Settle never reports settled.
func TestClosedDatabase(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		prefix := newPrefix(t, tg, db)
		s, err := sqlstore.New(db, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		create(t, s, order("GONE", 1))
		// Close a second handle, so that the cleanup can still drop the
		// tables; an in-memory database gets its own, closed with it.
		h := db
		if tg.shared {
			h = tg.open(t, dsn)
		} else {
			h = tg.open(t, tg.newDSN(t))
		}
		gone, err := sqlstore.New(h, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if !tg.shared {
			if err := gone.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			create(t, gone, order("GONE", 1))
		}
		h.Close()
		ctx := context.Background()
		no := order("GONE", 1).OutTradeNo
		calls := []struct {
			name string
			call func() error
		}{
			{"Migrate", func() error { return gone.Migrate(ctx) }},
			{"Create", func() error { return gone.Create(ctx, order("GONE", 2)) }},
			{"Get", func() error { _, err := gone.Get(ctx, no); return err }},
			{"ListByBusinessID", func() error { _, err := gone.ListByBusinessID(ctx, "GONE"); return err }},
			{"SetCheckout", func() error { return gone.SetCheckout(ctx, no, "weixin://x", "", t0) }},
			{"Settle", func() error {
				settled, err := gone.Settle(ctx, no, store.Payment{TransactionID: "42"}, t0)
				if settled {
					return errors.New("settled=true")
				}
				return err
			}},
			{"MarkFulfilled", func() error { return gone.MarkFulfilled(ctx, no, t0) }},
			{"Finish", func() error { return gone.Finish(ctx, no, store.Closed, "expired", t0) }},
		}
		for _, c := range calls {
			t.Run(c.name, func(t *testing.T) {
				err := c.call()
				if err == nil || err.Error() == "settled=true" {
					t.Fatalf("%s on a closed database: got %v, want an error", c.name, err)
				}
				for _, sentinel := range []error{store.ErrNotFound, store.ErrExists, store.ErrConflict} {
					if errors.Is(err, sentinel) {
						t.Errorf("%s: got %v, want a database error, not %v", c.name, err, sentinel)
					}
				}
			})
		}
		if tg.shared {
			if got := get(t, s, no); got.Status != store.Pending {
				t.Errorf("status after the failed calls: got %s, want PENDING", got.Status)
			}
		}
	})
}
