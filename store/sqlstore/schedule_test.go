package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
)

// TestMigrateSchedulesExistingAttempts: a database at version 2, holding
// attempts in every state, is brought to version 3 with each attempt
// scheduled — PENDING due 5 s after its creation, PAID and unfulfilled due
// at once as fulfilment work, finished ones no work — and migrating again
// changes nothing.
func TestMigrateSchedulesExistingAttempts(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		s, prefix := newStorePrefix(t, tg, db)
		ctx := context.Background()
		pending, unfulfilled, fulfilled, closed := order("BIZV", 1), order("BIZV", 2), order("BIZV", 3), order("BIZV", 4)
		for _, o := range []*store.Order{pending, unfulfilled, fulfilled, closed} {
			create(t, s, o)
		}
		if _, err := s.Settle(ctx, unfulfilled.OutTradeNo, store.Payment{TransactionID: "T2"}, pending.CreatedAt); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Settle(ctx, fulfilled.OutTradeNo, store.Payment{TransactionID: "T3"}, pending.CreatedAt); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkFulfilled(ctx, fulfilled.OutTradeNo, pending.CreatedAt); err != nil {
			t.Fatal(err)
		}
		if err := s.Finish(ctx, closed.OutTradeNo, store.Closed, "test", pending.CreatedAt); err != nil {
			t.Fatal(err)
		}
		// Back to version 2: no schedule at all.
		for _, stmt := range []string{"DROP TABLE " + prefix + "schedule", "DELETE FROM " + prefix + "schema_version WHERE version = 3"} {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		for run := 1; run <= 2; run++ {
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate #%d: %v", run, err)
			}
		}
		wantDue := pending.CreatedAt.Add(5 * time.Second)
		if got := get(t, s, pending.OutTradeNo).NextDue; !got.Equal(wantDue.Truncate(time.Microsecond)) {
			t.Errorf("PENDING attempt's NextDue: got %v, want %v (created + 5 s)", got, wantDue)
		}
		claim := func(k store.Kind) []string {
			cs, err := s.Claim(ctx, store.ClaimRequest{Kind: k, Now: wantDue, Lease: time.Minute, Limit: 10})
			if err != nil {
				t.Fatalf("Claim(%s): %v", k, err)
			}
			var keys []string
			for _, c := range cs {
				keys = append(keys, c.Key)
			}
			return keys
		}
		if got := claim(store.KindQuery); len(got) != 1 || got[0] != pending.OutTradeNo {
			t.Errorf("query work after the migration: got %v, want [%s]", got, pending.OutTradeNo)
		}
		if got := claim(store.KindFulfil); len(got) != 1 || got[0] != unfulfilled.OutTradeNo {
			t.Errorf("fulfilment work after the migration: got %v, want [%s]", got, unfulfilled.OutTradeNo)
		}
	})
}
