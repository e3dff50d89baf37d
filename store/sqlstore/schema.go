package sqlstore

import (
	"fmt"
	"strings"

	"github.com/cypaykit/kit/store"
)

// migration is one schema version. Its statements must be safe to run
// again after a crash half-way (IF NOT EXISTS), because MySQL commits
// every DDL statement on its own.
type migration struct {
	version int
	stmts   func(d Dialect, p string) []string
}

// migrations is append-only: a released version is never edited.
var migrations = []migration{
	{1, createOrders},
	{2, createLeases},
	{3, createSchedule},
	{4, createRefunds},
	{5, createBuyers},
	{6, createExpiries},
	{7, createMoneyFacts},
	{8, createHistory},
	{9, createAbandons},
}

// Column types per dialect. Strings in MySQL get explicit lengths (an
// index needs them, and strict mode turns an over-long value into an error
// rather than a silent truncation) and a binary collation, so that
// out_trade_no "ab12345" and "AB12345" are different orders, as they are
// at the gateway. Times are BIGINT microseconds since the Unix epoch, UTC:
// exact, comparable and identical in all three dialects. A zero time.Time
// is stored as NULL where a column may be unset.
type columnTypes struct {
	key, text, short, long, integer, bigint, flag, suffix string
}

func typesFor(d Dialect) columnTypes {
	switch d {
	case MySQL:
		return columnTypes{
			key: "VARCHAR(64)", text: "VARCHAR(128)", short: "VARCHAR(32)", long: "TEXT",
			integer: "INT", bigint: "BIGINT", flag: "SMALLINT",
			suffix: " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
		}
	case Postgres:
		return columnTypes{
			key: "TEXT", text: "TEXT", short: "TEXT", long: "TEXT",
			integer: "INTEGER", bigint: "BIGINT", flag: "SMALLINT",
		}
	default:
		return columnTypes{
			key: "TEXT", text: "TEXT", short: "TEXT", long: "TEXT",
			integer: "INTEGER", bigint: "INTEGER", flag: "INTEGER",
		}
	}
}

func createVersionTable(d Dialect, p string) string {
	t := typesFor(d)
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %sschema_version (
	version %s NOT NULL PRIMARY KEY,
	applied_at %s NOT NULL
)%s`, p, t.integer, t.bigint, t.suffix)
}

func createOrders(d Dialect, p string) []string {
	t := typesFor(d)
	table := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]sorders (
	out_trade_no %[2]s NOT NULL PRIMARY KEY,
	business_id %[3]s NOT NULL,
	attempt %[6]s NOT NULL,
	mch_id %[4]s NOT NULL,
	channel %[4]s NOT NULL,
	trade_type %[4]s NOT NULL,
	version %[4]s NOT NULL,
	amount %[7]s NOT NULL,
	status %[4]s NOT NULL,
	transaction_id %[2]s NOT NULL,
	channel_transaction_id %[3]s NOT NULL,
	paid_at %[7]s NULL,
	fulfilled %[8]s NOT NULL,
	fulfilled_at %[7]s NULL,
	code_url %[5]s NOT NULL,
	pay_info %[5]s NOT NULL,
	reason %[5]s NOT NULL,
	created_at %[7]s NOT NULL,
	updated_at %[7]s NOT NULL`, p, t.key, t.text, t.short, t.long, t.integer, t.bigint, t.flag)
	if d == MySQL {
		// MySQL has no CREATE INDEX IF NOT EXISTS (MariaDB does), so the
		// indexes go inside the one idempotent CREATE TABLE.
		return []string{table + fmt.Sprintf(`,
	UNIQUE KEY %[1]sorders_business_attempt (business_id, attempt),
	KEY %[1]sorders_status_created (status, created_at),
	KEY %[1]sorders_status_paid (status, fulfilled, paid_at)
)%[2]s`, p, t.suffix)}
	}
	return []string{
		table + "\n)",
		fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %[1]sorders_business_attempt ON %[1]sorders (business_id, attempt)", p),
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %[1]sorders_status_created ON %[1]sorders (status, created_at)", p),
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %[1]sorders_status_paid ON %[1]sorders (status, fulfilled, paid_at)", p),
	}
}

// createLeases is the Locker's table: one row per lease name, whose
// holder is token until expires_at (microseconds, database clock).
func createLeases(d Dialect, p string) []string {
	return []string{createLeaseTable(d, p+"leases")}
}

// createLeaseTable is a lease table's statement: the Locker's, and the
// migration lock's where GET_LOCK is missing (see migrateLeased).
func createLeaseTable(d Dialect, table string) string {
	t := typesFor(d)
	name := t.key
	if d == MySQL {
		name = "VARCHAR(191)" // an indexable utf8mb4 length everywhere
	}
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
	name %s NOT NULL PRIMARY KEY,
	token %s NOT NULL,
	expires_at %s NOT NULL
)%s`, table, name, t.key, t.bigint, t.suffix)
}

// createSchedule is the reconciler's shared schedule (store.Scheduler):
// one row per attempt with the kind of work it is (query, fulfil, or none
// once it is finished), when it is next due, and the token of its latest
// claim. It is a table of its own rather than columns on orders because
// ALTER TABLE … ADD COLUMN cannot be made idempotent on SQLite or MySQL 8,
// and every statement here must be. The kind is kept here, in step with
// the order's status by the same transactions, so that a claim reads one
// index range, (kind, next_due), whose size is what is due, not the
// backlog or the history. created_at repeats the order's, for the claim
// of attempts in their fast window.
//
// The INSERT … SELECT brings an existing database along: every attempt
// gets its row, a PENDING one due 5 s after its creation (the gateway's
// first query), a PAID unfulfilled one due at once. Rows that exist are
// left alone, so it can run again.
func createSchedule(d Dialect, p string) []string {
	t := typesFor(d)
	table := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]sschedule (
	out_trade_no %[2]s NOT NULL PRIMARY KEY,
	kind %[3]s NOT NULL,
	next_due %[4]s NOT NULL,
	claim_token %[3]s NOT NULL,
	created_at %[4]s NOT NULL`, p, t.key, t.short, t.bigint)
	backfill := fmt.Sprintf(`INSERT INTO %[1]sschedule (out_trade_no, kind, next_due, claim_token, created_at)
SELECT o.out_trade_no,
	CASE WHEN o.status = '%[2]s' THEN '%[4]s' WHEN o.status = '%[3]s' AND o.fulfilled = 0 THEN '%[5]s' ELSE '' END,
	CASE WHEN o.status = '%[2]s' THEN o.created_at + 5000000 ELSE 0 END,
	'', o.created_at
FROM %[1]sorders o
WHERE NOT EXISTS (SELECT 1 FROM %[1]sschedule s WHERE s.out_trade_no = o.out_trade_no)`,
		p, store.Pending, store.Paid, store.KindQuery, store.KindFulfil)
	if d == MySQL {
		return []string{table + fmt.Sprintf(`,
	KEY %[1]sschedule_due (kind, next_due)
)%[2]s`, p, t.suffix), backfill}
	}
	return []string{
		table + "\n)",
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %[1]sschedule_due ON %[1]sschedule (kind, next_due)", p),
		backfill,
	}
}

// createRefunds is the RefundStore's table (version 4; version 3 belongs
// to the reconciler's schedule). out_refund_no is unique, as is a refund's
// place (seq) in its attempt and its idempotency key when there is one
// (NULL otherwise: every dialect lets NULLs repeat in a unique index).
func createRefunds(d Dialect, p string) []string {
	t := typesFor(d)
	table := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]srefunds (
	out_refund_no %[2]s NOT NULL PRIMARY KEY,
	out_trade_no %[2]s NOT NULL,
	business_id %[3]s NOT NULL,
	mch_id %[4]s NOT NULL,
	channel %[4]s NOT NULL,
	version %[4]s NOT NULL,
	order_amount %[7]s NOT NULL,
	seq %[6]s NOT NULL,
	amount %[7]s NOT NULL,
	reason %[5]s NOT NULL,
	after_close %[8]s NOT NULL,
	idempotency_key %[3]s NULL,
	state %[4]s NOT NULL,
	refund_id %[2]s NOT NULL,
	refunded_at %[7]s NULL,
	tries %[6]s NOT NULL,
	note %[5]s NOT NULL,
	next_due %[7]s NOT NULL,
	claim_token %[2]s NOT NULL,
	claim_until %[7]s NOT NULL,
	created_at %[7]s NOT NULL,
	updated_at %[7]s NOT NULL`, p, t.key, t.text, t.short, t.long, t.integer, t.bigint, t.flag)
	if d == MySQL {
		return []string{table + fmt.Sprintf(`,
	UNIQUE KEY %[1]srefunds_attempt_seq (out_trade_no, seq),
	UNIQUE KEY %[1]srefunds_key (idempotency_key),
	KEY %[1]srefunds_state_due (state, next_due)
)%[2]s`, p, t.suffix)}
	}
	return []string{
		table + "\n)",
		fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %[1]srefunds_attempt_seq ON %[1]srefunds (out_trade_no, seq)", p),
		fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %[1]srefunds_key ON %[1]srefunds (idempotency_key)", p),
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %[1]srefunds_state_due ON %[1]srefunds (state, next_due)", p),
	}
}

// createBuyers (version 5) keeps Order.Buyer, the fingerprint of a JSPAY
// attempt's buyer fields, one row per attempt that has one. It is a table
// of its own rather than a buyer column on orders for the reason the
// schedule is (see createSchedule): ALTER TABLE … ADD COLUMN cannot be made
// idempotent on SQLite or MySQL 8, and every statement here must be.
// Attempts without a row, which include every attempt recorded before
// version 5, read back Buyer "".
func createBuyers(d Dialect, p string) []string {
	t := typesFor(d)
	return []string{fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]sorder_buyers (
	out_trade_no %[2]s NOT NULL PRIMARY KEY,
	buyer %[2]s NOT NULL
)%[3]s`, p, t.key, t.suffix)}
}

// createExpiries (version 6) keeps Order.ExpiresAt, the time_expire an
// attempt was pre-ordered with, one row per attempt that has one, in a
// table of its own for the reason order_buyers is (see createBuyers).
// Attempts without a row, which include every attempt recorded before
// version 6, read back the zero time, and the reconciler keeps its MaxAge
// schedule for them.
func createExpiries(d Dialect, p string) []string {
	t := typesFor(d)
	return []string{fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]sorder_expiries (
	out_trade_no %[2]s NOT NULL PRIMARY KEY,
	expires_at %[3]s NOT NULL
)%[4]s`, p, t.key, t.bigint, t.suffix)}
}

// createMoneyFacts (version 7) keeps Order.Money, the money facts of the
// proof that settled an attempt (coupon, cash, currency, bank, WeChat
// ids), one row per attempt settled with them, in a table of its own for
// the reason order_buyers is (see createBuyers). The row is written in
// Settle's transaction, so a PAID attempt never lacks it. Attempts without
// a row, which include every attempt settled before version 7, read back
// Money.Recorded false with every fact empty.
func createMoneyFacts(d Dialect, p string) []string {
	t := typesFor(d)
	return []string{fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]sorder_money (
	out_trade_no %[2]s NOT NULL PRIMARY KEY,
	coupon_fee %[3]s NOT NULL,
	cash_fee %[3]s NOT NULL,
	fee_type %[4]s NOT NULL,
	bank_type %[5]s NOT NULL,
	sub_appid %[5]s NOT NULL,
	wx_mch_id %[5]s NOT NULL,
	wx_sub_mch_id %[5]s NOT NULL
)%[6]s`, p, t.key, t.bigint, t.short, t.text, t.suffix)}
}

// createHistory (version 8; 7 and 9 belong to other work landed beside
// it) is the inbox of verified notifications and the attempts' event
// history (store.InboxStore, store.EventStore). Both have a generated id:
// it orders the inbox (its pages are cut by id) and keeps events recorded
// at the same instant in the order they were recorded. The body is binary,
// not text, so that a replay posts exactly the bytes that arrived; MySQL's
// BLOB stops at 65535 bytes, one short of the default MaxBody, hence
// MEDIUMBLOB.
func createHistory(d Dialect, p string) []string {
	t := typesFor(d)
	id, blob := "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"
	switch d {
	case Postgres:
		id, blob = "BIGSERIAL PRIMARY KEY", "BYTEA"
	case MySQL:
		id, blob = "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY", "MEDIUMBLOB"
	}
	inbox := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]sinbox (
	id %[2]s,
	received_at %[3]s NOT NULL,
	instance %[4]s NOT NULL,
	out_trade_no %[5]s NOT NULL,
	amount %[3]s NOT NULL,
	content_type %[4]s NOT NULL,
	remote_addr %[4]s NOT NULL,
	headers %[6]s NOT NULL,
	body %[7]s NOT NULL,
	outcome %[8]s NOT NULL,
	reply %[8]s NOT NULL,
	status %[9]s NOT NULL,
	err %[6]s NOT NULL,
	copies %[3]s NOT NULL`, p, id, t.bigint, t.text, t.key, t.long, blob, t.short, t.integer)
	events := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]sevents (
	id %[2]s,
	out_trade_no %[5]s NOT NULL,
	at %[3]s NOT NULL,
	kind %[6]s NOT NULL,
	source %[6]s NOT NULL,
	outcome %[6]s NOT NULL,
	amount %[3]s NOT NULL,
	detail %[7]s NOT NULL,
	instance %[4]s NOT NULL`, p, id, t.bigint, t.text, t.key, t.short, t.long)
	if d == MySQL {
		return []string{
			inbox + fmt.Sprintf(`,
	KEY %[1]sinbox_received (received_at),
	KEY %[1]sinbox_attempt (out_trade_no, id)
)%[2]s`, p, t.suffix),
			events + fmt.Sprintf(`,
	KEY %[1]sevents_attempt (out_trade_no, at),
	KEY %[1]sevents_at (at)
)%[2]s`, p, t.suffix),
		}
	}
	return []string{
		inbox + "\n)",
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %[1]sinbox_received ON %[1]sinbox (received_at)", p),
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %[1]sinbox_attempt ON %[1]sinbox (out_trade_no, id)", p),
		events + "\n)",
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %[1]sevents_attempt ON %[1]sevents (out_trade_no, at)", p),
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %[1]sevents_at ON %[1]sevents (at)", p),
	}
}

// createAbandons (version 9) keeps Order.AbandonedAt, when the buyer gave
// an attempt up, one row per abandoned attempt, in a table of its own for
// the reason order_buyers is (see createBuyers). Attempts without a row,
// which include every attempt recorded before version 9, are not
// abandoned.
func createAbandons(d Dialect, p string) []string {
	t := typesFor(d)
	return []string{fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]sorder_abandons (
	out_trade_no %[2]s NOT NULL PRIMARY KEY,
	abandoned_at %[3]s NOT NULL
)%[4]s`, p, t.key, t.bigint, t.suffix)}
}

// recordVersion returns the statement that records migration v as applied
// and does nothing when it already is.
func recordVersion(d Dialect, p string, v int, appliedAt int64) string {
	switch d {
	case MySQL:
		return fmt.Sprintf("INSERT IGNORE INTO %sschema_version (version, applied_at) VALUES (%d, %d)", p, v, appliedAt)
	case Postgres:
		return fmt.Sprintf("INSERT INTO %sschema_version (version, applied_at) VALUES (%d, %d) ON CONFLICT (version) DO NOTHING", p, v, appliedAt)
	default:
		return fmt.Sprintf("INSERT OR IGNORE INTO %sschema_version (version, applied_at) VALUES (%d, %d)", p, v, appliedAt)
	}
}

// schemaStatements is every statement of the current schema, in order.
func schemaStatements(d Dialect, p string) []string {
	stmts := []string{createVersionTable(d, p)}
	for _, m := range migrations {
		stmts = append(stmts, m.stmts(d, p)...)
		stmts = append(stmts, recordVersion(d, p, m.version, 0))
	}
	return stmts
}

// Schema returns the SQL that Migrate would apply to an empty database,
// as statements ending in ";" and separated by blank lines, for teams that
// run migrations with their own tool. Every statement is idempotent, and
// the script records the versions it creates in <prefix>schema_version,
// so a later Migrate only applies what is newer. An empty prefix means
// DefaultTablePrefix. Schema panics on an unknown dialect or an invalid
// prefix, like regexp.MustCompile: both are programming errors.
func Schema(d Dialect, prefix string) string {
	p, err := checkConfig(d, prefix)
	if err != nil {
		panic(err)
	}
	return strings.Join(schemaStatements(d, p), ";\n\n") + ";\n"
}

// LatestVersion is the schema version Migrate brings a database to.
func LatestVersion() int { return migrations[len(migrations)-1].version }
