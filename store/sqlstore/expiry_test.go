package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestMigrateKeepsExpiry: a database at version 5, holding an attempt, is
// brought to version 6 (twice, changing nothing the second time); the old
// attempt reads back a zero ExpiresAt, so the reconciler keeps its MaxAge
// schedule for it, and an attempt created afterwards keeps its expiry
// through Get and ListByBusinessID.
func TestMigrateKeepsExpiry(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		s, prefix := newStorePrefix(t, tg, db)
		ctx := context.Background()
		// Back to version 5: no expiry table (nor any later one) at all.
		for _, stmt := range []string{"DROP TABLE " + prefix + "order_expiries", "DROP TABLE " + prefix + "order_money",
			"DROP TABLE " + prefix + "inbox", "DROP TABLE " + prefix + "events", "DROP TABLE " + prefix + "order_abandons",
			"DELETE FROM " + prefix + "schema_version WHERE version >= 6"} {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		if diff := cmp.Diff([]int{1, 2, 3, 4, 5}, versions(t, db, prefix)); diff != "" {
			t.Fatalf("schema_version at version 5 (-want +got):\n%s", diff)
		}
		old := order("BIZX", 1)
		if _, err := db.ExecContext(ctx, "INSERT INTO "+prefix+"orders (out_trade_no, business_id, attempt, mch_id, channel, trade_type, version, amount, status, "+
			"transaction_id, channel_transaction_id, fulfilled, code_url, pay_info, reason, created_at, updated_at) "+
			"VALUES ('"+old.OutTradeNo+"', 'BIZX', 1, 'M1', 'WECHAT', 'NATIVE', 'V2', 100, 'PENDING', '', '', 0, '', '', '', 1, 1)"); err != nil {
			t.Fatalf("insert a version 5 attempt: %v", err)
		}
		for run := 1; run <= 2; run++ {
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate #%d: %v", run, err)
			}
		}
		if diff := cmp.Diff(allVersions(), versions(t, db, prefix)); diff != "" {
			t.Errorf("schema_version (-want +got):\n%s", diff)
		}
		if got := get(t, s, old.OutTradeNo); !got.ExpiresAt.IsZero() {
			t.Errorf("version 5 attempt's ExpiresAt: got %v, want the zero time", got.ExpiresAt)
		}
		fresh := order("BIZX", 2)
		fresh.ExpiresAt = fresh.CreatedAt.Add(2 * time.Hour)
		create(t, s, fresh)
		list, err := s.ListByBusinessID(ctx, "BIZX")
		if err != nil {
			t.Fatal(err)
		}
		var got []time.Time
		for _, o := range list {
			got = append(got, o.ExpiresAt)
		}
		want := []time.Time{{}, fresh.ExpiresAt.Truncate(time.Microsecond).UTC()}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListByBusinessID expiries (-want +got):\n%s", diff)
		}
	})
}
