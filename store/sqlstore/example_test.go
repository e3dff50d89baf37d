package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
)

func ExampleNew() {
	// The host opens the database with its own driver (here the pure-Go
	// modernc.org/sqlite, in memory); sqlstore imports none.
	db, err := sql.Open("sqlite", "file:example?mode=memory")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one connection is the whole in-memory database

	ctx := context.Background()
	s, err := sqlstore.New(db, sqlstore.Config{Dialect: sqlstore.SQLite, TablePrefix: "shop_"})
	if err != nil {
		panic(err)
	}
	if err := s.Migrate(ctx); err != nil {
		panic(err)
	}

	now := time.Now()
	err = s.Create(ctx, &store.Order{
		OutTradeNo: "ORDER42A001", BusinessID: "ORDER42", Attempt: 1,
		MchID: "755437000006", Channel: model.PayWeChat, TradeType: "NATIVE", Version: model.V2,
		Amount: 1999, Status: store.Pending, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		panic(err)
	}

	pay := store.Payment{TransactionID: "4200001234", PaidAt: now}
	settled, err := s.Settle(ctx, "ORDER42A001", pay, now)
	fmt.Println("first notification:", settled, err)
	settled, err = s.Settle(ctx, "ORDER42A001", pay, now)
	fmt.Println("duplicate:", settled, err)
	_, err = s.Settle(ctx, "ORDER42A001", store.Payment{TransactionID: "4200009999"}, now)
	fmt.Println("another transaction is a conflict:", errors.Is(err, store.ErrConflict))
	// Output:
	// first notification: true <nil>
	// duplicate: false <nil>
	// another transaction is a conflict: true
}

func ExampleSchema() {
	// For teams that run migrations with their own tool.
	script := sqlstore.Schema(sqlstore.Postgres, "shop_")
	for _, line := range strings.Split(script, "\n") {
		if strings.HasPrefix(line, "CREATE") {
			fmt.Println(line)
		}
	}
	// Output:
	// CREATE TABLE IF NOT EXISTS shop_schema_version (
	// CREATE TABLE IF NOT EXISTS shop_orders (
	// CREATE UNIQUE INDEX IF NOT EXISTS shop_orders_business_attempt ON shop_orders (business_id, attempt);
	// CREATE INDEX IF NOT EXISTS shop_orders_status_created ON shop_orders (status, created_at);
	// CREATE INDEX IF NOT EXISTS shop_orders_status_paid ON shop_orders (status, fulfilled, paid_at);
	// CREATE TABLE IF NOT EXISTS shop_leases (
	// CREATE TABLE IF NOT EXISTS shop_schedule (
	// CREATE INDEX IF NOT EXISTS shop_schedule_due ON shop_schedule (kind, next_due);
	// CREATE TABLE IF NOT EXISTS shop_refunds (
	// CREATE UNIQUE INDEX IF NOT EXISTS shop_refunds_attempt_seq ON shop_refunds (out_trade_no, seq);
	// CREATE UNIQUE INDEX IF NOT EXISTS shop_refunds_key ON shop_refunds (idempotency_key);
	// CREATE INDEX IF NOT EXISTS shop_refunds_state_due ON shop_refunds (state, next_due);
	// CREATE TABLE IF NOT EXISTS shop_order_buyers (
	// CREATE TABLE IF NOT EXISTS shop_order_expiries (
	// CREATE TABLE IF NOT EXISTS shop_order_money (
	// CREATE TABLE IF NOT EXISTS shop_inbox (
	// CREATE INDEX IF NOT EXISTS shop_inbox_received ON shop_inbox (received_at);
	// CREATE INDEX IF NOT EXISTS shop_inbox_attempt ON shop_inbox (out_trade_no, id);
	// CREATE TABLE IF NOT EXISTS shop_events (
	// CREATE INDEX IF NOT EXISTS shop_events_attempt ON shop_events (out_trade_no, at);
	// CREATE INDEX IF NOT EXISTS shop_events_at ON shop_events (at);
	// CREATE TABLE IF NOT EXISTS shop_order_abandons (
}

// Example_production opens the store as a production host does: its own
// driver (here pgx's "pgx"), a pool bounded below the database's
// connection limit, migrations run by every instance at start-up, and the
// store as the Settler's Locker and the Reconciler's schedule. It is
// compiled, not run: it needs a PostgreSQL server.
func Example_production() {
	ctx := context.Background()
	// snippet:begin production
	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL")) // import _ "github.com/jackc/pgx/v5/stdlib"
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(20) // below the server's limit divided by the number of instances
	db.SetMaxIdleConns(20)
	db.SetConnMaxLifetime(30 * time.Minute)
	st, err := sqlstore.New(db, sqlstore.Config{Dialect: sqlstore.Postgres}) // tables cypay_*
	if err != nil {
		log.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil { // versioned, idempotent, safe from every instance at once
		log.Fatal(err)
	}
	// st is an OrderStore, a Locker (its leases table) and a store.Scheduler:
	// every instance that shares the database shares the leases and the schedule.
	settler, err := handler.NewSettler(handler.SettlerConfig{Store: st, Fulfill: ship})
	if err != nil {
		log.Fatal(err)
	}
	// snippet:end production
	_ = settler
}

// ship stands in for the host's fulfilment hook.
func ship(ctx context.Context, o store.Order) error { return nil }
