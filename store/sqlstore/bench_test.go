package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
)

// BenchmarkSettle compares Store.Settle with the cheapest correct
// alternative, a hand-written conditional UPDATE with its RowsAffected
// check, on the same database in the same run. Each iteration settles a
// different PENDING attempt, seeded outside the timer.
//
//	go test -run '^$' -bench BenchmarkSettle -benchtime 2000x -count 5
func BenchmarkSettle(b *testing.B) {
	for _, tg := range targets {
		if tg.name == "sqlite-memory" {
			continue // nothing durable to compare
		}
		b.Run(strings.TrimSuffix(tg.name, "-file"), func(b *testing.B) {
			dsn := tg.newDSN(b)
			db := tg.open(b, dsn)
			s, prefix := newStorePrefix(b, tg, db)
			ctx := context.Background()
			now := time.Now()
			pay := store.Payment{TransactionID: "4200000001", ChannelTransactionID: "W1", PaidAt: now}

			b.Run("store", func(b *testing.B) {
				ids := seed(b, tg, db, prefix, "S", b.N)
				b.ResetTimer()
				for _, id := range ids {
					settled, err := s.Settle(ctx, id, pay, now)
					if err != nil || !settled {
						b.Fatalf("Settle(%s): %v, %v", id, settled, err)
					}
				}
			})
			b.Run("rawUpdate", func(b *testing.B) {
				ids := seed(b, tg, db, prefix, "R", b.N)
				q := "UPDATE " + prefix + "orders SET status = 'PAID', transaction_id = ?, channel_transaction_id = ?, " +
					"paid_at = ?, updated_at = ? WHERE out_trade_no = ? AND status = 'PENDING'"
				if tg.dialect == sqlstore.Postgres {
					q = "UPDATE " + prefix + "orders SET status = 'PAID', transaction_id = $1, channel_transaction_id = $2, " +
						"paid_at = $3, updated_at = $4 WHERE out_trade_no = $5 AND status = 'PENDING'"
				}
				b.ResetTimer()
				for _, id := range ids {
					res, err := db.ExecContext(ctx, q, pay.TransactionID, pay.ChannelTransactionID,
						pay.PaidAt.UnixMicro(), now.UnixMicro(), id)
					if err != nil {
						b.Fatal(err)
					}
					if n, err := res.RowsAffected(); err != nil || n != 1 {
						b.Fatalf("UPDATE %s: %d rows, %v", id, n, err)
					}
				}
			})
		})
	}
}

var seedRun int

// seed inserts n PENDING attempts in one transaction and returns their
// out_trade_no, unique across the benchmark's repeated runs.
func seed(b *testing.B, tg target, db *sql.DB, prefix, tag string, n int) []string {
	b.Helper()
	seedRun++
	s, err := sqlstore.New(db, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	_ = s
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	q := "INSERT INTO " + prefix + "orders (out_trade_no, business_id, attempt, mch_id, channel, trade_type, version, " +
		"amount, status, transaction_id, channel_transaction_id, fulfilled, code_url, pay_info, reason, created_at, updated_at) " +
		"VALUES (?, ?, 1, '755437000006', 'WX', 'NATIVE', 'v2', 1999, 'PENDING', '', '', 0, '', '', '', 0, 0)"
	if tg.dialect == sqlstore.Postgres {
		q = strings.Replace(strings.Replace(q, "?", "$1", 1), "?", "$2", 1)
	}
	stmt, err := tx.Prepare(q)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%dN%d", tag, seedRun, i)
		if _, err := stmt.Exec(ids[i], ids[i]); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return ids
}
