package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
)

// pgTarget is the PostgreSQL target of the schedule benchmarks.
func pgTarget() target {
	for _, tg := range targets {
		if tg.dialect == sqlstore.Postgres {
			return tg
		}
	}
	panic("no postgres target")
}

// bulkPending inserts n PENDING attempts keyed prefix+number, created at
// created and due at due, in two INSERT … SELECT generate_series
// statements: seconds for 100k rows, where Create would take minutes.
func bulkPending(b testing.TB, db *sql.DB, prefix, key string, n int, created, due time.Time) {
	b.Helper()
	ctx := context.Background()
	c, d := created.UnixMicro(), due.UnixMicro()
	stmts := []string{
		fmt.Sprintf(`INSERT INTO %[1]sorders (out_trade_no, business_id, attempt, mch_id, channel, trade_type, version, amount, status,
	transaction_id, channel_transaction_id, paid_at, fulfilled, fulfilled_at, code_url, pay_info, reason, created_at, updated_at)
SELECT '%[2]s' || g, 'B%[2]s' || g, 1, 'M100001', 'WECHAT', 'NATIVE', 'v2', 100, 'PENDING', '', '', NULL, 0, NULL, '', '', '', %[3]d, %[3]d
FROM generate_series(1, %[4]d) AS g`, prefix, key, c, n),
		fmt.Sprintf(`INSERT INTO %[1]sschedule (out_trade_no, kind, next_due, claim_token, created_at)
SELECT '%[2]s' || g, 'query', %[3]d, '', %[4]d FROM generate_series(1, %[5]d) AS g`, prefix, key, d, c, n),
		fmt.Sprintf("ANALYZE %[1]sorders; ANALYZE %[1]sschedule", prefix),
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			b.Fatalf("bulk insert: %v", err)
		}
	}
}

// passClaims does what a reconciler pass asks of the store: claim due
// work Concurrency (4) at a time, fresh attempts first, then fulfilment,
// then the tail, and reschedule each claim, until nothing is due. It
// returns the claims made.
func passClaims(b testing.TB, s *sqlstore.Store, now time.Time) int {
	ctx := context.Background()
	n := 0
	for {
		var got []store.Claim
		for _, req := range []store.ClaimRequest{
			{Kind: store.KindQuery, CreatedAfter: now.Add(-2 * time.Minute)},
			{Kind: store.KindFulfil},
			{Kind: store.KindQuery},
		} {
			req.Now, req.Lease, req.Limit = now, time.Minute, 4
			cs, err := s.Claim(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			if len(cs) > 0 {
				got = cs
				break
			}
		}
		if len(got) == 0 {
			return n
		}
		for _, c := range got {
			if err := s.Reschedule(ctx, c, now.Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
		n += len(got)
	}
}

// BenchmarkSchedulePass times the store's share of one reconciler pass on
// PostgreSQL with nothing due and with 100 attempts due, behind backlogs
// of 1k, 10k and 100k PENDING attempts that are not due, beside one
// primary-key UPDATE of a schedule row as the baseline. A pass should cost
// in proportion to what is due: the figures must not grow with the backlog.
//
//	go test -run '^$' -bench BenchmarkSchedulePass -benchtime 200x -count 3
func BenchmarkSchedulePass(b *testing.B) {
	tg := pgTarget()
	dsn := tg.newDSN(b)
	for _, backlog := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprint("backlog=", backlog), func(b *testing.B) {
			db := tg.open(b, dsn)
			s, prefix := newStorePrefix(b, tg, db)
			now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			bulkPending(b, db, prefix, "BK", backlog, now.Add(-3*time.Hour), now.Add(time.Hour))
			bulkPending(b, db, prefix, "DU", 100, now.Add(-time.Hour), now.Add(time.Hour))
			redue := fmt.Sprintf("UPDATE %sschedule SET next_due = %d, claim_token = '' WHERE out_trade_no LIKE 'DU%%'", prefix, now.Add(-time.Minute).UnixMicro())
			raw := fmt.Sprintf("UPDATE %sschedule SET next_due = next_due + 1 WHERE out_trade_no = $1", prefix)

			b.Run("raw-update", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := db.Exec(raw, fmt.Sprint("BK", 1+i%backlog)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("nothing-due", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if n := passClaims(b, s, now); n != 0 {
						b.Fatalf("claimed %d, want 0", n)
					}
				}
			})
			b.Run("100-due", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					if _, err := db.Exec(redue); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if n := passClaims(b, s, now); n != 100 {
						b.Fatalf("claimed %d, want 100", n)
					}
				}
			})
		})
	}
}

// BenchmarkClaimThroughput measures claims per second on PostgreSQL with
// 4 claimers on their own connections, each taking one due attempt and
// rescheduling it as still due, over 1,000 due attempts.
//
//	go test -run '^$' -bench BenchmarkClaimThroughput -benchtime 5000x -count 3
func BenchmarkClaimThroughput(b *testing.B) {
	tg := pgTarget()
	dsn := tg.newDSN(b)
	db := tg.open(b, dsn)
	s, prefix := newStorePrefix(b, tg, db)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	bulkPending(b, db, prefix, "TP", 1000, now.Add(-time.Hour), now.Add(-time.Minute))
	ctx := context.Background()
	b.SetParallelism(1) // × GOMAXPROCS claimers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cs, err := s.Claim(ctx, store.ClaimRequest{Kind: store.KindQuery, Now: now, Lease: time.Minute, Limit: 1})
			if err != nil {
				b.Error(err)
				return
			}
			for _, c := range cs {
				if err := s.Reschedule(ctx, c, now.Add(-time.Second)); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}
