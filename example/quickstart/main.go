// Command quickstart is the README's quick start as a program: the kit's
// handlers on a plain net/http server, configured from the environment,
// with every error checked. Copy it, then replace the demo order book
// (orderBook) with your own database.
//
//	CYPAY_MCH_ID=00000001 CYPAY_MCH_KEY=... \
//	CYPAY_NOTIFY_URL=https://shop.example.com/pay/notify \
//	go run ./example/quickstart
//
// CYPAY_GATEWAY_URL defaults to the production gateway; point it at
// `go run ./cmd/cypay sim` to try it without one. CYPAY_ADDR defaults to
// 127.0.0.1:8080.
package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// config is what the program reads from its environment.
type config struct {
	GatewayURL string // CYPAY_GATEWAY_URL; empty means the production gateway
	MchID      string // CYPAY_MCH_ID, the merchant number (商户号)
	MchKey     string // CYPAY_MCH_KEY, the merchant key (商户密钥)
	NotifyURL  string // CYPAY_NOTIFY_URL, where the gateway posts 异步通知
	Addr       string // CYPAY_ADDR; empty means 127.0.0.1:8080
}

// configFromEnv reads config and refuses what can never work, so that a
// missing variable stops the program at start-up, not at the first buyer.
func configFromEnv() (config, error) {
	cfg := config{
		GatewayURL: os.Getenv("CYPAY_GATEWAY_URL"),
		MchID:      os.Getenv("CYPAY_MCH_ID"),
		MchKey:     os.Getenv("CYPAY_MCH_KEY"),
		NotifyURL:  os.Getenv("CYPAY_NOTIFY_URL"),
		Addr:       os.Getenv("CYPAY_ADDR"),
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	var missing []string
	for name, v := range map[string]string{"CYPAY_MCH_ID": cfg.MchID, "CYPAY_MCH_KEY": cfg.MchKey, "CYPAY_NOTIFY_URL": cfg.NotifyURL} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return config{}, fmt.Errorf("set %s", strings.Join(missing, ", "))
	}
	return cfg, nil
}

func main() {
	cfg, err := configFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	h, rec, err := mount(cfg)
	if err != nil {
		log.Fatal(err)
	}
	// snippet:begin serve
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		if err := rec.Run(ctx); err != nil { // settles what notifications missed
			log.Printf("reconciler: %v", err)
		}
	}()
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second, // above the gateway client's 15 s
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	context.AfterFunc(ctx, func() { shutdown(srv) }) // on SIGTERM: finish what is in flight
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	// snippet:end serve
}

// shutdown stops srv gracefully, giving requests in flight 10 s.
func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Printf("shutdown: %v", err)
	}
}

// mount builds the kit's handlers and routes them on a ServeMux. The
// Reconciler it returns must be run (rec.Run) for as long as the server is.
func mount(cfg config) (http.Handler, *handler.Reconciler, error) {
	// snippet:begin mount
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{cfg.MchID: cfg.MchKey})}
	gw, err := client.New(client.Config{GatewayURL: cfg.GatewayURL, Keys: keys}) // v2; "" is production
	if err != nil {
		return nil, nil, err
	}
	st := memstore.New() // production: sqlstore, shared by every instance (it is its own Locker)
	settler, err := handler.NewSettler(handler.SettlerConfig{
		Store: st,
		Fulfill: func(ctx context.Context, o store.Order) error {
			return orders.Ship(ctx, o.BusinessID) // runs once the order is PAID; keep it idempotent
		},
	})
	if err != nil {
		return nil, nil, err
	}
	notify, err := handler.NewNotify(handler.NotifyConfig{Settler: settler, Keys: keys})
	if err != nil {
		return nil, nil, err
	}
	preorder, err := handler.NewPreOrder(handler.PreOrderConfig{
		Store: st, Client: gw, NotifyURL: cfg.NotifyURL,
		Resolve: func(ctx context.Context, orderID string) (handler.Purchase, error) {
			o, err := orders.Get(ctx, orderID) // your database: the amount is yours, never the browser's
			if errors.Is(err, errNoOrder) {
				return handler.Purchase{}, fmt.Errorf("%w: %v", handler.ErrOrderNotFound, err)
			}
			if err != nil {
				return handler.Purchase{}, err // the database failed: a 500, not a 404
			}
			return handler.Purchase{MchID: cfg.MchID, Amount: o.AmountFen, Body: o.Title}, nil
		},
		// Order ids are guessable: only the buyer holding the order's token
		// may start its payments (403 for anyone else, before anything is
		// recorded or sent).
		Authorize: func(r *http.Request, orderID string) bool {
			o, err := orders.Get(r.Context(), orderID)
			return err == nil && subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(o.Token)) == 1
		},
	})
	if err != nil {
		return nil, nil, err
	}
	status, err := handler.NewStatus(handler.StatusConfig{
		Store: st,
		// Out-trade numbers are guessable: show an order only to the buyer
		// holding the token the shop gave with it; others get a 404.
		Authorize: func(r *http.Request, o *store.Order) handler.StatusAccess {
			bo, err := orders.Get(r.Context(), o.BusinessID)
			if err != nil || subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(bo.Token)) != 1 {
				return handler.StatusDenied
			}
			return handler.StatusPayer
		},
	})
	if err != nil {
		return nil, nil, err
	}
	rec, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: settler, Client: gw})
	if err != nil {
		return nil, nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("POST /pay/preorder", preorder)
	mux.Handle("POST /pay/notify", notify)
	mux.Handle("GET /pay/orders/{out_trade_no}", status)
	mux.Handle("GET /pay/orders", status) // ?order_id= (the business order) or ?out_trade_no=
	return mux, rec, nil
	// snippet:end mount
}

// businessOrder is one order of the demo shop's own book.
type businessOrder struct {
	AmountFen int64  // what the buyer owes, in fen
	Title     string // the goods description the gateway shows
	Token     string // handed to the buyer with the order; unlocks its status
}

// orderBook stands in for the host's order table.
type orderBook struct {
	mu      sync.Mutex
	orders  map[string]businessOrder
	shipped map[string]int // business order id → times Ship ran
}

// orders is the demo shop's book: replace it with your database.
var orders = &orderBook{
	orders: map[string]businessOrder{
		"1001": {AmountFen: 1800, Title: "Cola ×2", Token: "demo-token-1001"},
		"1002": {AmountFen: 4500, Title: "Tea ×5", Token: "demo-token-1002"},
	},
	shipped: map[string]int{},
}

// errNoOrder is Get's answer for an order the book does not hold.
var errNoOrder = errors.New("no such order")

// Get returns a business order by its id.
func (b *orderBook) Get(_ context.Context, id string) (businessOrder, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.orders[id]
	if !ok {
		return businessOrder{}, fmt.Errorf("%w %q", errNoOrder, id)
	}
	return o, nil
}

// Ship hands a paid order to the warehouse (here: counts and logs it).
func (b *orderBook) Ship(ctx context.Context, id string) error {
	b.mu.Lock()
	b.shipped[id]++
	b.mu.Unlock()
	slog.InfoContext(ctx, "ship the goods", slog.String("order_id", id))
	return nil
}

// Shipments says how often Ship ran for an order.
func (b *orderBook) Shipments(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.shipped[id]
}
