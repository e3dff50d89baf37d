package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMigrateKeepsBuyer: a database at version 4, holding an attempt, is
// brought to version 5 (twice, changing nothing the second time); the old
// attempt reads back Buyer "", and a JSPAY attempt created afterwards
// keeps its Buyer through Get and ListByBusinessID.
func TestMigrateKeepsBuyer(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		s, prefix := newStorePrefix(t, tg, db)
		ctx := context.Background()
		// Back to version 4: no buyer table (nor any later one) at all.
		for _, stmt := range []string{"DROP TABLE " + prefix + "order_buyers", "DROP TABLE " + prefix + "order_expiries",
			"DROP TABLE " + prefix + "order_money", "DROP TABLE " + prefix + "order_abandons",
			"DELETE FROM " + prefix + "schema_version WHERE version >= 5"} {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		if diff := cmp.Diff([]int{1, 2, 3, 4}, versions(t, db, prefix)); diff != "" {
			t.Fatalf("schema_version at version 4 (-want +got):\n%s", diff)
		}
		old := order("BIZY", 1)
		if _, err := db.ExecContext(ctx, "INSERT INTO "+prefix+"orders (out_trade_no, business_id, attempt, mch_id, channel, trade_type, version, amount, status, "+
			"transaction_id, channel_transaction_id, fulfilled, code_url, pay_info, reason, created_at, updated_at) "+
			"VALUES ('"+old.OutTradeNo+"', 'BIZY', 1, 'M1', 'WECHAT', 'JSPAY', 'V2', 100, 'PENDING', '', '', 0, '', '', '', 1, 1)"); err != nil {
			t.Fatalf("insert a version 4 attempt: %v", err)
		}
		for run := 1; run <= 2; run++ {
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate #%d: %v", run, err)
			}
		}
		if diff := cmp.Diff(allVersions(), versions(t, db, prefix)); diff != "" {
			t.Errorf("schema_version (-want +got):\n%s", diff)
		}
		if got := get(t, s, old.OutTradeNo); got.Buyer != "" {
			t.Errorf("version 4 attempt's Buyer: got %q, want \"\"", got.Buyer)
		}
		jspay := order("BIZY", 2)
		jspay.TradeType = "JSPAY"
		jspay.Buyer = "00112233445566778899aabbccddeeff"
		create(t, s, jspay)
		if got := get(t, s, jspay.OutTradeNo); got.Buyer != jspay.Buyer {
			t.Errorf("Get(%s).Buyer: got %q, want %q", jspay.OutTradeNo, got.Buyer, jspay.Buyer)
		}
		list, err := s.ListByBusinessID(ctx, "BIZY")
		if err != nil {
			t.Fatal(err)
		}
		var buyers []string
		for _, o := range list {
			buyers = append(buyers, o.Buyer)
		}
		if diff := cmp.Diff([]string{"", jspay.Buyer}, buyers); diff != "" {
			t.Errorf("ListByBusinessID buyers (-want +got):\n%s", diff)
		}
		// A second attempt cannot take the first one's place by its buyer row.
		dup := order("BIZY", 2)
		dup.Buyer = "ffeeddccbbaa99887766554433221100"
		if err := s.Create(ctx, dup); err == nil {
			t.Errorf("Create(duplicate with another buyer): got nil, want ErrExists")
		} else if got := get(t, s, jspay.OutTradeNo); got.Buyer != jspay.Buyer {
			t.Errorf("after a refused duplicate, Buyer: got %q, want %q", got.Buyer, jspay.Buyer)
		}
	})
}
