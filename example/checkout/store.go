package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
	"github.com/cypaykit/kit/store/sqlstore"
)

// openStore opens the -db store, the Locker that the Settler shares with
// every other instance on the same -db (memstore's own, for one process
// anyway, or the SQL store's lease table), and the shop's order book in
// the same database.
func openStore(ctx context.Context, dbFlag, tablePrefix string) (store.OrderStore, store.Locker, orderBook, func() error, error) {
	target, memory, err := parseDB(dbFlag)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if memory {
		s := memstore.New()
		return s, s, newMemBook(), func() error { return nil }, nil
	}
	// A bounded pool (sqlopen.MaxOpenConns; one connection for SQLite):
	// a burst of notifications queues for a connection inside its
	// deadline instead of exhausting the server's.
	db, err := target.Open()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	kind := target.Dialect
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, nil, nil, nil, fmt.Errorf("connect to %s: %w", kind, err)
	}
	s, err := sqlstore.New(db, sqlstore.Config{Dialect: kind, TablePrefix: tablePrefix})
	if err != nil {
		db.Close()
		return nil, nil, nil, nil, err
	}
	if err := s.Migrate(pctx); err != nil {
		db.Close()
		return nil, nil, nil, nil, fmt.Errorf("migrate %s: %w", kind, err)
	}
	if tablePrefix == "" {
		tablePrefix = sqlstore.DefaultTablePrefix
	}
	book := &sqlBook{db: db, table: tablePrefix + "shop_orders", dollar: kind == sqlstore.Postgres}
	if err := book.migrate(pctx); err != nil {
		db.Close()
		return nil, nil, nil, nil, fmt.Errorf("migrate %s: %w", kind, err)
	}
	// The Store is a store.Locker on its own leases table: every instance
	// on this database shares it.
	return s, s, book, db.Close, nil
}

// sqlBook keeps the shop's business orders in <prefix>shop_orders, next
// to the kit's tables. The SQL is the subset all three dialects share.
type sqlBook struct {
	db     *sql.DB
	table  string
	dollar bool // PostgreSQL's $n placeholders instead of ?
}

// q rewrites ? placeholders for PostgreSQL.
func (b *sqlBook) q(query string) string {
	if !b.dollar {
		return query
	}
	var out strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&out, "$%d", n)
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}

func (b *sqlBook) migrate(ctx context.Context) error {
	_, err := b.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+b.table+` (
	id VARCHAR(32) NOT NULL PRIMARY KEY,
	product_id VARCHAR(32) NOT NULL,
	quantity INTEGER NOT NULL,
	amount BIGINT NOT NULL,
	fulfilled INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
)`)
	return err
}

func (b *sqlBook) put(ctx context.Context, o shopOrder) error {
	_, err := b.db.ExecContext(ctx, b.q(`INSERT INTO `+b.table+` (id, product_id, quantity, amount, fulfilled, created_at) VALUES (?, ?, ?, ?, 0, ?)`),
		o.ID, o.Product.ID, o.Quantity, o.Amount, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("checkout: record order: %w", err)
	}
	return nil
}

func (b *sqlBook) get(ctx context.Context, id string) (shopOrder, error) {
	var (
		o         = shopOrder{ID: id}
		productID string
		fulfilled int
	)
	err := b.db.QueryRowContext(ctx, b.q(`SELECT product_id, quantity, amount, fulfilled FROM `+b.table+` WHERE id = ?`), id).
		Scan(&productID, &o.Quantity, &o.Amount, &fulfilled)
	if errors.Is(err, sql.ErrNoRows) {
		return shopOrder{}, errUnknownOrder
	}
	if err != nil {
		return shopOrder{}, fmt.Errorf("checkout: read order: %w", err)
	}
	p, ok := findProduct(productID)
	if !ok {
		// The catalogue lost a product an order names: the order keeps
		// the amount it was priced at.
		p = product{ID: productID, Name: productID}
	}
	o.Product, o.Fulfilled = p, fulfilled != 0
	return o, nil
}

func (b *sqlBook) markFulfilled(ctx context.Context, id string) error {
	if _, err := b.db.ExecContext(ctx, b.q(`UPDATE `+b.table+` SET fulfilled = 1 WHERE id = ?`), id); err != nil {
		return fmt.Errorf("checkout: record shipping: %w", err)
	}
	return nil
}

func (b *sqlBook) recent(ctx context.Context, limit int) ([]shopOrder, error) {
	rows, err := b.db.QueryContext(ctx, b.q(`SELECT id FROM `+b.table+` ORDER BY created_at DESC, id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("checkout: list orders: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("checkout: list orders: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("checkout: list orders: %w", err)
	}
	out := make([]shopOrder, 0, len(ids))
	for _, id := range ids {
		o, err := b.get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
