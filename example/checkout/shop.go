package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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

// shop keeps the demo's business orders in memory. A real shop has its own
// order table; the kit only needs the amount of an order id (Resolve) and
// a hook to call once it is paid (Fulfill).
type shop struct {
	mu     sync.Mutex
	orders map[string]*shopOrder
	now    func() time.Time
}

func newShop() *shop {
	return &shop{orders: map[string]*shopOrder{}, now: time.Now}
}

func findProduct(id string) (product, bool) {
	for _, p := range catalogue {
		if p.ID == id {
			return p, true
		}
	}
	return product{}, false
}

// create records a business order priced from the catalogue.
func (s *shop) create(productID string, quantity int) (shopOrder, error) {
	p, ok := findProduct(productID)
	if !ok {
		return shopOrder{}, errUnknownProduct
	}
	if quantity < 1 || quantity > maxQuantity {
		return shopOrder{}, errBadQuantity
	}
	o := &shopOrder{ID: s.newID(), Product: p, Quantity: quantity, Amount: p.Price * int64(quantity)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.ID] = o
	return *o, nil
}

// newID makes ids unique across restarts (the payment attempts outlive the
// in-memory orders in a database file) and short enough that the kit can
// append an attempt number within out_trade_no's 32 characters.
func (s *shop) newID() string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "D" + s.now().UTC().Format("20060102150405") + hex.EncodeToString(b[:])
}

func (s *shop) get(id string) (shopOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return shopOrder{}, errUnknownOrder
	}
	return *o, nil
}

// fulfil is where a real shop ships the goods. It is idempotent, as the
// kit asks of a fulfilment hook.
func (s *shop) fulfil(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		// Paid before a restart: the demo has forgotten the order, but the
		// payment is recorded in the store. Nothing to ship here.
		return nil
	}
	o.Fulfilled = true
	return nil
}
