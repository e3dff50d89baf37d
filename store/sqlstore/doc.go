// Package sqlstore is a store.OrderStore, store.Scheduler,
// store.RefundStore and store.Locker on database/sql for SQLite,
// PostgreSQL and MySQL/MariaDB, and for TiDB, OceanBase and cloud MySQL
// through the MySQL dialect. It imports no driver: the host opens the
// *sql.DB with the driver it already uses and names the Dialect.
//
//	db, err := sql.Open("pgx", dsn) // or "sqlite", "mysql"
//	s, err := sqlstore.New(db, sqlstore.Config{Dialect: sqlstore.Postgres})
//	err = s.Migrate(ctx)
//
// # Schema and migrations
//
// The store keeps eight tables, <prefix>orders, <prefix>schedule (the
// reconciler's due times and claims, store.Scheduler), <prefix>refunds
// (store.RefundStore's), <prefix>order_buyers (Order.Buyer, for the JSPAY
// attempts that have one), <prefix>order_expiries (Order.ExpiresAt, for
// the attempts that have one), <prefix>order_money (Order.Money, for the
// attempts settled with it), <prefix>order_abandons
// (Order.AbandonedAt, for the attempts a buyer gave up), <prefix>leases
// (the Locker's) and
// <prefix>schema_version (the prefix is Config.TablePrefix, "cypay_" by
// default). Migrate creates
// or upgrades them; it is versioned, idempotent and safe to run from every
// instance at start-up, since concurrent runs wait on a database lock.
// Teams that run migrations with their own tool apply Schema(dialect,
// prefix) instead, which produces the same tables and records the same
// versions, so a later Migrate applies only what is newer.
//
// Amounts are BIGINT fen. Times are BIGINT microseconds since the Unix
// epoch (UTC), the same in all three dialects; an unset PaidAt or
// FulfilledAt is NULL and reads back as the zero time.Time. Get and the
// list methods return times in UTC, truncated to the microsecond.
//
// # Concurrency
//
// Settle, MarkFulfilled and Finish are each one conditional UPDATE
// (… WHERE out_trade_no = ? AND status = 'PENDING') in a short
// transaction: the database, not the caller, decides which of several
// concurrent calls wins, so exactly one Settle reports settled=true across
// every process sharing the tables, and a call that fails (cancelled
// context, lost connection) leaves nothing behind.
//
// Claims (Claim, ClaimRefunds) are exclusive by their conditional marks,
// not by a lock clause: TiDB accepts FOR UPDATE SKIP LOCKED and locks
// nothing, so the store asks the server what it is (Store.Server) and
// never sends it there. A transaction the server aborts for a concurrent
// one (deadlock, serialization failure, TiDB's optimistic write conflict)
// runs again, bounded, and is never reported as a business outcome. Leases
// and refund claims are taken over only Config.ClockSkew after they ran
// out. See docs/several-instances.md for each engine.
//
// # Leases
//
// A Store is also a store.Locker, store.TryLocker and store.Extender on
// <prefix>leases (a row per held lease: random token, expiry by the
// database's clock), so a Settler given only the Store keeps the
// fulfilment hook to one run at a time across every instance. NewLocker
// gives the same leases without the orders. A take whose reply is lost
// (a context that ends while the statement runs) deletes its row again,
// so no lease is left held by a token nobody has.
//
// SQLite needs a busy timeout for concurrent writers, and WAL lets readers
// run beside a writer; with modernc.org/sqlite:
//
//	file:pay.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)
//
// MySQL tables use utf8mb4_bin so that out_trade_no compares case-
// sensitively, as the gateway does.
package sqlstore
