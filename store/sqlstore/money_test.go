package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/google/go-cmp/cmp"
)

// TestMigrateKeepsMoney: a database at version 6, holding an attempt
// settled before stores kept money facts, is brought to version 7 (twice,
// changing nothing the second time); the old attempt reads back
// Money.Recorded false with every fact empty, and an attempt settled
// afterwards keeps its facts through Get, ListByBusinessID and Claim.
func TestMigrateKeepsMoney(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		s, prefix := newStorePrefix(t, tg, db)
		ctx := context.Background()
		// Back to version 6: no money table at all.
		for _, stmt := range []string{"DROP TABLE " + prefix + "order_money", "DELETE FROM " + prefix + "schema_version WHERE version >= 7"} {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		if diff := cmp.Diff([]int{1, 2, 3, 4, 5, 6}, versions(t, db, prefix)); diff != "" {
			t.Fatalf("schema_version at version 6 (-want +got):\n%s", diff)
		}
		old := order("BIZM", 1)
		if _, err := db.ExecContext(ctx, "INSERT INTO "+prefix+"orders (out_trade_no, business_id, attempt, mch_id, channel, trade_type, version, amount, status, "+
			"transaction_id, channel_transaction_id, fulfilled, code_url, pay_info, reason, created_at, updated_at) "+
			"VALUES ('"+old.OutTradeNo+"', 'BIZM', 1, 'M1', 'WECHAT', 'NATIVE', 'V2', 100, 'PAID', 'T0', '', 1, '', '', '', 1, 1)"); err != nil {
			t.Fatalf("insert a version 6 paid attempt: %v", err)
		}
		for run := 1; run <= 2; run++ {
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate #%d: %v", run, err)
			}
		}
		if diff := cmp.Diff(allVersions(), versions(t, db, prefix)); diff != "" {
			t.Errorf("schema_version (-want +got):\n%s", diff)
		}
		if got := get(t, s, old.OutTradeNo); got.Money != (store.MoneyFacts{}) {
			t.Errorf("version 6 attempt's Money: got %+v, want none recorded", got.Money)
		}
		fresh := order("BIZM", 2)
		create(t, s, fresh)
		facts := store.MoneyFacts{Recorded: true, CouponFee: 30, CashFee: fresh.Amount - 30, FeeType: "CNY",
			BankType: "CFT", SubAppID: "wx2421b1c4370ec43b", WxMchID: "1900000109", WxSubMchID: "1900000110"}
		if _, err := s.Settle(ctx, fresh.OutTradeNo, store.Payment{TransactionID: "T2", PaidAt: fresh.CreatedAt, Money: facts}, fresh.CreatedAt); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListByBusinessID(ctx, "BIZM")
		if err != nil {
			t.Fatal(err)
		}
		var got []store.MoneyFacts
		for _, o := range list {
			got = append(got, o.Money)
		}
		if diff := cmp.Diff([]store.MoneyFacts{{}, facts}, got); diff != "" {
			t.Errorf("ListByBusinessID money facts (-want +got):\n%s", diff)
		}
		// The reconciler's claim reads attempts through its own query.
		claimed, err := s.Claim(ctx, store.ClaimRequest{Kind: store.KindFulfil, Now: fresh.CreatedAt.Add(time.Hour), Lease: time.Minute, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) != 1 || claimed[0].Order == nil || claimed[0].Order.Money != facts {
			t.Errorf("Claim: got %+v, want the settled attempt with Money %+v", claimed, facts)
		}
	})
}
