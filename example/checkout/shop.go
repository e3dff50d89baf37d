package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// product is an item of the demo catalogue. Price is in fen.
type product struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price int64  `json:"price"`
}

// catalogue is the shop's price list: the only source of amounts.
var catalogue = []product{
	{ID: "latte", Name: "拿铁 Latte", Price: 1800},
	{ID: "croissant", Name: "可颂 Croissant", Price: 1200},
	{ID: "beans", Name: "咖啡豆 250 g Coffee beans", Price: 6800},
	{ID: "mug", Name: "马克杯 Mug", Price: 4500},
}

// maxQuantity keeps amounts far from any overflow and the demo sensible.
const maxQuantity = 99

var (
	errUnknownProduct = errors.New("checkout: unknown product")
	errBadQuantity    = fmt.Errorf("checkout: quantity must be 1..%d", maxQuantity)
	errUnknownOrder   = errors.New("checkout: unknown order")
	errBusy           = errors.New("checkout: too many new orders; try again shortly")
)

// shopOrder is a business order of the demo shop: what the customer buys.
// Payment attempts for it live in the kit's OrderStore.
type shopOrder struct {
	ID        string
	Product   product
	Quantity  int
	Amount    int64
	Fulfilled bool
}

// orderBook keeps the shop's business orders: in memory with -db memory,
// otherwise in a table of the same database as the kit's store, so that a
// restart forgets neither the orders nor their payments.
type orderBook interface {
	// put records a new order.
	put(ctx context.Context, o shopOrder) error
	// get returns an order, or errUnknownOrder.
	get(ctx context.Context, id string) (shopOrder, error)
	// markFulfilled records that the order shipped; an unknown order is
	// not an error (there is nothing to ship).
	markFulfilled(ctx context.Context, id string) error
	// recent returns at most limit orders, newest first, for the back
	// office.
	recent(ctx context.Context, limit int) ([]shopOrder, error)
}

// shop is the demo's business side. A real shop has its own order table;
// the kit only needs the amount of an order id (Resolve) and a hook to
// call once it is paid (Fulfill).
type shop struct {
	book  orderBook
	limit *limiter
	now   func() time.Time
}

func newShop(book orderBook, limit *limiter) *shop {
	return &shop{book: book, limit: limit, now: time.Now}
}

func findProduct(id string) (product, bool) {
	for _, p := range catalogue {
		if p.ID == id {
			return p, true
		}
	}
	return product{}, false
}

// create records a business order priced from the catalogue, within the
// shop's rate limit (errBusy, with how long to wait, beyond it).
func (s *shop) create(ctx context.Context, productID string, quantity int) (shopOrder, time.Duration, error) {
	p, ok := findProduct(productID)
	if !ok {
		return shopOrder{}, 0, errUnknownProduct
	}
	if quantity < 1 || quantity > maxQuantity {
		return shopOrder{}, 0, errBadQuantity
	}
	if ok, wait := s.limit.allow(); !ok {
		return shopOrder{}, wait, errBusy
	}
	o := shopOrder{ID: s.newID(), Product: p, Quantity: quantity, Amount: p.Price * int64(quantity)}
	if err := s.book.put(ctx, o); err != nil {
		return shopOrder{}, 0, err
	}
	return o, 0, nil
}

// newID makes ids unique across restarts and short enough that the kit
// can append an attempt number within out_trade_no's 32 characters.
func (s *shop) newID() string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "D" + s.now().UTC().Format("20060102150405") + hex.EncodeToString(b[:])
}

func (s *shop) get(ctx context.Context, id string) (shopOrder, error) { return s.book.get(ctx, id) }

// recentOrders is how many orders the back office lists.
const recentOrders = 100

// list returns the shop's latest orders, newest first.
func (s *shop) list(ctx context.Context) ([]shopOrder, error) {
	return s.book.recent(ctx, recentOrders)
}

// fulfil is where a real shop ships the goods. It is idempotent, as the
// kit asks of a fulfilment hook.
func (s *shop) fulfil(ctx context.Context, id string) error { return s.book.markFulfilled(ctx, id) }

// memBook is the orderBook of -db memory.
type memBook struct {
	mu     sync.Mutex
	orders map[string]shopOrder
}

func newMemBook() *memBook { return &memBook{orders: map[string]shopOrder{}} }

func (b *memBook) put(_ context.Context, o shopOrder) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.orders[o.ID] = o
	return nil
}

func (b *memBook) get(_ context.Context, id string) (shopOrder, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.orders[id]
	if !ok {
		return shopOrder{}, errUnknownOrder
	}
	return o, nil
}

func (b *memBook) markFulfilled(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o, ok := b.orders[id]; ok {
		o.Fulfilled = true
		b.orders[id] = o
	}
	return nil
}

func (b *memBook) recent(_ context.Context, limit int) ([]shopOrder, error) {
	b.mu.Lock()
	out := make([]shopOrder, 0, len(b.orders))
	for _, o := range b.orders {
		out = append(out, o)
	}
	b.mu.Unlock()
	// Ids start with their creation time, so they sort by age.
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
