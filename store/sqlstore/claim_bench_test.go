package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
)

// BenchmarkClaimBatch: two claimers (GOMAXPROCS = 2) each claiming
// batches of 20 due attempts from 2,000, through the store and through a
// raw claim in the same run: on PostgreSQL the one-statement UPDATE over
// FOR UPDATE SKIP LOCKED without the store's conditions, on the MySQL
// dialect a FOR UPDATE SKIP LOCKED read and an unconditional mark in one
// transaction (what the store sent before issue 18). Each claim's lease
// is a millisecond and the clock moves a millisecond per claim, so the
// attempts come due again and the pool never runs dry. It reports claimed
// attempts per second. Under the TiDB simulation only the store runs: the
// raw claim would fail its injected conflicts.
func BenchmarkClaimBatch(b *testing.B) {
	const pool, batch = 2000, 20
	for _, tg := range append(append([]target{}, targets[2:]...), simTargets[0]) {
		b.Run(tg.name, func(b *testing.B) {
			db := tg.open(b, tg.newDSN(b))
			s, prefix := newStorePrefix(b, tg, db)
			base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			ctx := context.Background()
			for i := range pool {
				o := order(fmt.Sprintf("CB%05d", i), 1)
				o.CreatedAt, o.NextDue = base.Add(-time.Hour), base.Add(-time.Minute)
				if err := s.Create(ctx, o); err != nil {
					b.Fatal(err)
				}
			}
			var tick atomic.Int64
			run := func(b *testing.B, claim func(now time.Time) (int, error)) {
				var claimed atomic.Int64
				b.SetParallelism(1)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n, err := claim(base.Add(time.Duration(tick.Add(1)) * time.Millisecond))
						if err != nil {
							b.Error(err)
							return
						}
						claimed.Add(int64(n))
					}
				})
				b.ReportMetric(float64(claimed.Load())/b.Elapsed().Seconds(), "claims/s")
			}
			b.Run("store", func(b *testing.B) {
				run(b, func(now time.Time) (int, error) {
					cs, err := s.Claim(ctx, store.ClaimRequest{Kind: store.KindQuery, Now: now, Lease: time.Millisecond, Limit: batch})
					return len(cs), err
				})
			})
			if !tg.server {
				return // a simulation: the raw claim has no retry for its injected conflicts
			}
			b.Run("raw", func(b *testing.B) {
				raw := rawClaim(tg.dialect, db, prefix+"schedule")
				run(b, func(now time.Time) (int, error) { return raw(ctx, now, batch) })
			})
		})
	}
}

// rawClaim is the bare claim statement the store is measured against.
func rawClaim(d sqlstore.Dialect, db *sql.DB, t string) func(ctx context.Context, now time.Time, limit int) (int, error) {
	pick := "SELECT out_trade_no FROM " + t + " WHERE kind = 'query' AND next_due <= %s ORDER BY next_due, out_trade_no LIMIT %s FOR UPDATE SKIP LOCKED"
	if d == sqlstore.Postgres {
		q := "UPDATE " + t + " AS s SET next_due = $1, claim_token = 'raw' FROM (" + fmt.Sprintf(pick, "$2", "$3") + ") AS c " +
			"WHERE s.out_trade_no = c.out_trade_no RETURNING s.out_trade_no"
		return func(ctx context.Context, now time.Time, limit int) (int, error) {
			rows, err := db.QueryContext(ctx, q, now.Add(time.Millisecond).UnixMicro(), now.UnixMicro(), limit)
			if err != nil {
				return 0, err
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				n++
			}
			return n, rows.Err()
		}
	}
	q := fmt.Sprintf(pick, "?", "?")
	return func(ctx context.Context, now time.Time, limit int) (int, error) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		defer tx.Rollback()
		rows, err := tx.QueryContext(ctx, q, now.UnixMicro(), limit)
		if err != nil {
			return 0, err
		}
		var keys []any
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return 0, err
			}
			keys = append(keys, k)
		}
		rows.Close()
		if len(keys) > 0 {
			args := append([]any{now.Add(time.Millisecond).UnixMicro()}, keys...)
			mark := "UPDATE " + t + " SET next_due = ?, claim_token = 'raw' WHERE out_trade_no IN (" +
				strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ") + ")"
			if _, err := tx.ExecContext(ctx, mark, args...); err != nil {
				return 0, err
			}
		}
		return len(keys), tx.Commit()
	}
}
