package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// TestReadPlansIgnoreStatistics: on PostgreSQL the statements that read
// attempts (one, a business order's, a claim's) look each side table up
// by its key, whatever the statistics say. As plain LEFT JOINs, the
// generic plan of a prepared statement (the one pgx's statement cache
// runs after five executions) on tables that were never analysed hashed
// every side table after reading it whole: order_money, one row per
// payment, was read in full on every fulfilment (issue 18.8). The tables
// here are new, so they have no statistics; no ANALYZE runs.
func TestReadPlansIgnoreStatistics(t *testing.T) {
	tg := pgTarget()
	db := tg.open(t, tg.newDSN(t))
	s, prefix := newStorePrefix(t, tg, db)
	ctx := context.Background()
	// Enough attempts, paid, for the planner to weigh the tables by their
	// size on disk (without statistics it reads the number of pages):
	// with 40 the joins' generic plan was still key lookups.
	for _, q := range []string{
		paidUnfulfilled,
		`INSERT INTO %[1]sschedule (out_trade_no, kind, next_due, claim_token, created_at)
SELECT 'P' || g || 'A001', 'fulfil', 1, '', 1 FROM generate_series(1, 8000) AS g`,
		`INSERT INTO %[1]sorder_money (out_trade_no, coupon_fee, cash_fee, fee_type, bank_type, sub_appid, wx_mch_id, wx_sub_mch_id)
SELECT 'P' || g || 'A001', 0, 100, 'CNY', 'CFT', '', '', '' FROM generate_series(1, 8000) AS g`,
	} {
		if _, err := db.ExecContext(ctx, fmt.Sprintf(q, prefix)); err != nil {
			t.Fatal(err)
		}
	}
	conn := genericPlanSession(t, ctx, db)
	get, list, claimed := s.ReadQueries()
	for _, q := range []struct{ name, query, arg string }{
		{"get", get, "P1A001"},
		{"listByBusiness", list, "P1"},
		{"claimed", claimed, "P1A001"},
	} {
		t.Run(q.name, func(t *testing.T) {
			plan := genericPlan(t, ctx, conn, q.query, q.arg)
			if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Hash") {
				t.Errorf("generic plan scans or hashes a table; want key lookups only:\n%s", plan)
			}
		})
	}
}

// paidUnfulfilled records 8,000 PAID unfulfilled attempts under the
// prefix it is formatted with: enough for the planner to weigh the tables
// by their size on disk (without statistics it reads the number of
// pages).
const paidUnfulfilled = `INSERT INTO %[1]sorders (out_trade_no, business_id, attempt, mch_id, channel, trade_type, version, amount, status,
	transaction_id, channel_transaction_id, paid_at, fulfilled, fulfilled_at, code_url, pay_info, reason, created_at, updated_at)
SELECT 'P' || g || 'A001', 'P' || g, 1, 'M100001', 'WECHAT', 'NATIVE', 'v2', 100, 'PAID', 'T' || g, '', 1, 0, NULL, '', '', '', 1, 1
FROM generate_series(1, 8000) AS g`

// genericPlanSession returns one session of db, closed when t ends, whose
// prepared statements are always planned generically: PREPARE, the plan
// cache mode and EXPLAIN belong to a session.
func genericPlanSession(t *testing.T, ctx context.Context, db *sql.DB) *sql.Conn {
	t.Helper()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// genericPlan prepares query (one text parameter) on conn, under a name
// from t's, and returns the plan EXPLAIN shows for arg.
func genericPlan(t *testing.T, ctx context.Context, conn *sql.Conn, query, arg string) string {
	t.Helper()
	return explainPrepared(t, ctx, conn, "(text)", query, "'"+arg+"'")
}

// explainPrepared prepares query on conn with the parameter types types
// (empty: the types PostgreSQL infers), under a name from t's, and
// returns the plan EXPLAIN shows when it is executed with args (SQL
// literals). Nothing runs.
func explainPrepared(t *testing.T, ctx context.Context, conn *sql.Conn, types, query, args string) string {
	t.Helper()
	name := "plan_" + t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]
	if _, err := conn.ExecContext(ctx, "PREPARE "+name+types+" AS "+query); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, "EXPLAIN EXECUTE "+name+"("+args+")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestWritePlansUseTheKey: on PostgreSQL the compare-and-sets that change
// one attempt find it by its key, whatever the statistics say, and test
// its status (and fulfilled) on that row only. As plain conditions beside
// the key, the generic plan on tables never analysed could read the
// attempt through orders_status_paid (status, fulfilled, paid_at), every
// PAID unfulfilled row and every dead index entry left by earlier
// fulfilments, on each record: 409 µs a fulfilment in
// BenchmarkFreshSettlement against 121 µs through the key (issue 18.8).
// The tables here are new and hold 8,000 PAID unfulfilled attempts; no
// ANALYZE runs.
func TestWritePlansUseTheKey(t *testing.T) {
	tg := pgTarget()
	db := tg.open(t, tg.newDSN(t))
	s, prefix := newStorePrefix(t, tg, db)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(paidUnfulfilled, prefix)); err != nil {
		t.Fatal(err)
	}
	conn := genericPlanSession(t, ctx, db)
	queries := s.WriteQueries()
	if len(queries) != 12 {
		t.Fatalf("%d statements to check; want PostgreSQL's 12", len(queries))
	}
	for name, query := range queries {
		t.Run(name, func(t *testing.T) {
			plan := genericPlanOf(t, ctx, conn, query)
			for _, bad := range []string{"Seq Scan", prefix + "orders_status_paid", prefix + "orders_status_created", prefix + "refunds_state_due"} {
				if strings.Contains(plan, bad) {
					t.Errorf("generic plan uses %s; want the attempt by its key only:\n%s", bad, plan)
				}
			}
		})
	}
}

// genericPlanOf prepares query on conn with the types PostgreSQL infers
// for its parameters and returns the plan EXPLAIN shows with '0' for each
// (nothing runs).
func genericPlanOf(t *testing.T, ctx context.Context, conn *sql.Conn, query string) string {
	t.Helper()
	n := 0
	for i := 1; strings.Contains(query, fmt.Sprintf("$%d", i)); i++ {
		n = i
	}
	return explainPrepared(t, ctx, conn, "", query, strings.TrimSuffix(strings.Repeat("'0', ", n), ", "))
}
