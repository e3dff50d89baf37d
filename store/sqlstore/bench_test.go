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

// BenchmarkSettle compares Store.Settle with a hand-written conditional
// UPDATE and its RowsAffected check, alone (rawUpdate) and in its own
// transaction (rawTxUpdate, the same SQL work as the store's), on the same
// database in the same run. Each iteration settles a different PENDING
// attempt, seeded outside the timer.
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
			for _, raw := range []struct {
				name string
				tx   bool
			}{{"rawUpdate", false}, {"rawTxUpdate", true}} {
				b.Run(raw.name, func(b *testing.B) {
					ids := seed(b, tg, db, prefix, "R", b.N)
					b.ResetTimer()
					for _, id := range ids {
						rawSettle(b, tg, db, prefix, id, pay, now, raw.tx)
					}
				})
			}
		})
	}
}

// BenchmarkSettleRatio interleaves Store.Settle with the two raw forms
// iteration by iteration, so that the disk's fsync latency, which
// dominates and drifts on a shared machine, weighs on all three alike, and
// reports the ratios: store/rawTx is the cost of the package over the same
// SQL; store/raw also includes the transaction it adds (see Store.cas).
//
//	go test -run '^$' -bench BenchmarkSettleRatio -benchtime 1000x -count 3
func BenchmarkSettleRatio(b *testing.B) {
	for _, tg := range targets {
		if tg.name == "sqlite-memory" {
			continue
		}
		b.Run(strings.TrimSuffix(tg.name, "-file"), func(b *testing.B) {
			dsn := tg.newDSN(b)
			db := tg.open(b, dsn)
			s, prefix := newStorePrefix(b, tg, db)
			ctx := context.Background()
			now := time.Now()
			pay := store.Payment{TransactionID: "4200000001", ChannelTransactionID: "W1", PaidAt: now}
			ids := [3][]string{seed(b, tg, db, prefix, "S", b.N), seed(b, tg, db, prefix, "R", b.N), seed(b, tg, db, prefix, "T", b.N)}
			var spent [3]time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for k := 0; k < 3; k++ {
					which := (i + k) % 3
					id := ids[which][i]
					start := time.Now()
					if which == 0 {
						if settled, err := s.Settle(ctx, id, pay, now); err != nil || !settled {
							b.Fatalf("Settle(%s): %v, %v", id, settled, err)
						}
					} else {
						rawSettle(b, tg, db, prefix, id, pay, now, which == 2)
					}
					spent[which] += time.Since(start)
				}
			}
			b.ReportMetric(float64(spent[0].Nanoseconds())/float64(b.N), "store-ns/op")
			b.ReportMetric(float64(spent[1].Nanoseconds())/float64(b.N), "raw-ns/op")
			b.ReportMetric(float64(spent[2].Nanoseconds())/float64(b.N), "rawTx-ns/op")
			b.ReportMetric(float64(spent[0])/float64(spent[1]), "store/raw")
			b.ReportMetric(float64(spent[0])/float64(spent[2]), "store/rawTx")
		})
	}
}

// rawSettle is the hand-written conditional UPDATE, alone or in its own
// transaction, checked for one affected row.
func rawSettle(b *testing.B, tg target, db *sql.DB, prefix, id string, pay store.Payment, now time.Time, inTx bool) {
	q := "UPDATE " + prefix + "orders SET status = 'PAID', transaction_id = ?, channel_transaction_id = ?, " +
		"paid_at = ?, updated_at = ? WHERE out_trade_no = ? AND status = 'PENDING'"
	if tg.dialect == sqlstore.Postgres {
		q = "UPDATE " + prefix + "orders SET status = 'PAID', transaction_id = $1, channel_transaction_id = $2, " +
			"paid_at = $3, updated_at = $4 WHERE out_trade_no = $5 AND status = 'PENDING'"
	}
	ctx := context.Background()
	var ex interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	} = db
	var tx *sql.Tx
	if inTx {
		var err error
		if tx, err = db.BeginTx(ctx, nil); err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback()
		ex = tx
	}
	res, err := ex.ExecContext(ctx, q, pay.TransactionID, pay.ChannelTransactionID, pay.PaidAt.UnixMicro(), now.UnixMicro(), id)
	if err != nil {
		b.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		b.Fatalf("UPDATE %s: %d rows, %v", id, n, err)
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

var seedRun int

// seed inserts n PENDING attempts in one transaction and returns their
// out_trade_no, unique across the benchmark's repeated runs.
func seed(b *testing.B, tg target, db *sql.DB, prefix, tag string, n int) []string {
	b.Helper()
	seedRun++
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
