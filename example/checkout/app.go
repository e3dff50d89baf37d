package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/health"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
)

//go:embed web
var webFS embed.FS

// app is the demo shop: its catalogue and orders, the kit's handlers over
// one store, and (with -gateway sim) the in-process gateway simulator.
type app struct {
	cfg        config
	log        *slog.Logger
	shop       *shop
	store      store.OrderStore
	sim        *gatewaytest.Server
	client     *client.Client
	preorder   http.Handler
	notify     http.Handler
	status     http.Handler
	closeRoute http.Handler // POST /pay/orders/{out_trade_no}/close: the Abandon button
	tokens     statusTokens
	reconciler *handler.Reconciler
	refunder   *refund.Refunder
	// adminStatus is the status handler the back office reads attempts
	// through: every attempt, to whoever passed requireAdmin.
	adminStatus http.Handler
	alerts      *alertLog // this instance's latest alerts
	// inbox and events are the store's inbox of verified notifications
	// and the attempts' histories; nil when the store keeps none.
	inbox     store.InboxStore
	events    store.EventStore
	confirmer *refundConfirmer // the refunds' confirmation step
	// adminToken guards /admin/…; adminTokenDrawn says it was drawn at
	// start-up (and is printed once) because none was configured.
	adminToken      string
	adminTokenDrawn bool
	authFailures    *authFailures // failed admin authentications per client
	notifyURL       string
	metrics         *shopMetrics // nil without -metrics and -metrics-addr
	// health answers /healthz and /readyz on the shop's address;
	// opsHealth on -metrics-addr, with the store's error text.
	health, opsHealth *health.Checker
	closers           []func() error
}

// newApp wires the shop. baseURL is where the shop is reachable, used for
// the default notify_url.
func newApp(ctx context.Context, cfg config, baseURL string, log *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, alerts: newAlertLog(time.Now)}
	defer func() {
		if err != nil {
			a.close()
		}
	}()

	st, locker, book, closeDB, err := openStore(ctx, cfg.DB, cfg.tablePrefix)
	if err != nil {
		return nil, err
	}
	a.shop = newShop(book, cfg.orderLimit)
	a.store = st
	a.closers = append(a.closers, closeDB)
	if cfg.Metrics || cfg.MetricsAddr != "" {
		if a.metrics, err = newShopMetrics(st); err != nil {
			return nil, err
		}
	}

	gatewayURL, openURL := cfg.Gateway, cfg.OpenURL
	if cfg.simulated() {
		a.sim, err = gatewaytest.Start(gatewaytest.Config{
			Merchants: map[string]string{cfg.MchID: cfg.MchKey},
			AgentID:   cfg.AgentID,
			AgentKey:  cfg.AgentKey,
		})
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, func() error { a.sim.Close(); return nil })
		gatewayURL, openURL = a.sim.URL, a.sim.URL
	}

	// Only the keys given: the kit refuses an empty key at construction.
	var keys client.Keyring
	if cfg.AgentKey != "" {
		keys.AgentID, keys.AgentKey = cfg.AgentID, cfg.AgentKey
	}
	if cfg.MchKey != "" {
		keys.MerchantKeys = client.StaticMerchantKeys(map[string]string{cfg.MchID: cfg.MchKey})
	}
	ccfg := client.Config{
		GatewayURL: gatewayURL,
		OpenURL:    openURL,
		Version:    cfg.Version,
		Keys:       keys,
		PID:        "cypaykit-demo",
	}
	a.metrics.client(&ccfg)
	a.client, err = client.New(ccfg)
	if err != nil {
		return nil, err
	}

	// Both stores the demo opens (memstore, sqlstore) keep the inbox of
	// verified notifications and each attempt's history (docs/inbox.md).
	inbox, _ := st.(store.InboxStore)
	events, _ := st.(store.EventStore)
	a.inbox, a.events = inbox, events // the back office reads them
	// The refunder is made first: the settler refunds, through it, every
	// payment a buyer did not owe (paid twice, or paid an attempt they had
	// abandoned), because a shop never wants a buyer to pay twice.
	fcfg := refund.Config{Store: st, Client: a.client, Alert: a.alerts.add, Events: events, Logger: log}
	a.metrics.refunder(&fcfg)
	if a.refunder, err = refund.New(fcfg); err != nil {
		return nil, err
	}
	scfg := handler.SettlerConfig{
		Store:      st,
		Locker:     locker,
		Inbox:      inbox,
		Events:     events,
		AutoRefund: a.refunder,
		Fulfill: func(ctx context.Context, o store.Order) error {
			log.InfoContext(ctx, "checkout: shipping", slog.String("order_id", o.BusinessID), slog.String("out_trade_no", o.OutTradeNo))
			return a.shop.fulfil(ctx, o.BusinessID)
		},
		Alert:  a.alerts.add,
		Logger: log,
	}
	a.metrics.settler(&scfg)
	settler, err := handler.NewSettler(scfg)
	if err != nil {
		return nil, err
	}
	// On shutdown, before the database closes: the inbox rows still being
	// written after their replies.
	a.closers = append(a.closers, func() error {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return settler.Flush(fctx)
	})
	if a.notify, err = handler.NewNotify(handler.NotifyConfig{Settler: settler, Keys: keys, Logger: log}); err != nil {
		return nil, err
	}
	a.notifyURL = cfg.NotifyURL
	if a.notifyURL == "" {
		a.notifyURL = strings.TrimRight(baseURL, "/") + "/pay/notify"
	}
	a.tokens = newStatusTokens(cfg)
	if a.preorder, err = handler.NewPreOrder(handler.PreOrderConfig{
		Store:     st,
		Client:    a.client,
		Resolve:   a.resolve,
		Authorize: a.tokens.authorizePayment,
		NotifyURL: a.notifyURL,
		Expire:    cfg.Expire,
		Events:    events,
		Logger:    log,
	}); err != nil {
		return nil, err
	}
	if a.status, err = handler.NewStatus(handler.StatusConfig{Store: st, Authorize: a.tokens.authorize, Logger: log}); err != nil {
		return nil, err
	}
	if a.adminStatus, err = handler.NewStatus(handler.StatusConfig{
		Store: st,
		// Mounted behind requireAdmin only: whoever gets here holds the
		// admin token and may see every attempt.
		Authorize: func(*http.Request, *store.Order) handler.StatusAccess { return handler.StatusViewer },
		Logger:    log,
	}); err != nil {
		return nil, err
	}
	a.authFailures = newAuthFailures(time.Now, maxAuthClients)
	if a.adminToken = cfg.AdminToken; a.adminToken == "" {
		if a.adminToken, err = newAdminToken(); err != nil {
			return nil, err
		}
		a.adminTokenDrawn = true
	}
	a.confirmer = newRefundConfirmer(a.adminToken, time.Now)
	rcfg := handler.ReconcilerConfig{
		Store:   st,
		Client:  a.client,
		Settler: settler,
		Logger:  log,
	}
	a.metrics.reconciler(&rcfg)
	if a.reconciler, err = handler.NewReconciler(rcfg); err != nil {
		return nil, err
	}
	// The buyer who may see an attempt's checkout (the order's token) may
	// close it; anyone else gets 404, as on the status route.
	if a.closeRoute, err = handler.NewCloseAttempt(handler.CloseConfig{
		Reconciler: a.reconciler, Authorize: a.tokens.authorize, Logger: log,
	}); err != nil {
		return nil, err
	}
	for _, h := range []struct {
		dst  **health.Checker
		show bool
	}{{&a.health, false}, {&a.opsHealth, true}} {
		if *h.dst, err = health.New(health.Config{
			Store: st, Reconciler: a.reconciler, ShowErrors: h.show,
		}); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// resolve is the pre-order's only source of the amount: the shop's own
// order, priced from the catalogue when it was created.
func (a *app) resolve(ctx context.Context, orderID string) (handler.Purchase, error) {
	o, err := a.shop.get(ctx, orderID)
	if errors.Is(err, errUnknownOrder) {
		return handler.Purchase{}, fmt.Errorf("%w: no order %q", handler.ErrOrderNotFound, orderID)
	}
	if err != nil {
		return handler.Purchase{}, err
	}
	if o.Fulfilled {
		return handler.Purchase{}, fmt.Errorf("%w: order %s is paid and shipped", handler.ErrOrderNotPayable, orderID)
	}
	return handler.Purchase{
		MchID:     a.cfg.MchID,
		Amount:    o.Amount,
		Body:      fmt.Sprintf("%s × %d", o.Product.Name, o.Quantity),
		ProductID: o.Product.ID,
	}, nil
}

// handler routes the shop with Go 1.22 patterns, so the status handler
// finds out_trade_no with r.PathValue.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	static, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err)
	}
	mux.Handle("GET /{$}", http.FileServerFS(static))
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /qr.png", serveQR)
	mux.HandleFunc("GET /api/config", a.serveConfig)
	mux.HandleFunc("GET /api/products", serveProducts)
	mux.HandleFunc("POST /api/orders", a.createOrder)
	mux.Handle("POST /pay/preorder", a.preorder) // ?token= (the order's status_token)
	mux.Handle("POST /pay/notify", a.notify)
	mux.Handle("GET /pay/orders/{out_trade_no}", a.status)
	mux.Handle("GET /pay/orders", a.status)                           // ?order_id= or ?out_trade_no=
	mux.Handle("POST /pay/orders/{out_trade_no}/close", a.closeRoute) // ?token=, like the status route
	if a.sim != nil {
		mux.HandleFunc("POST /sim/pay/{out_trade_no}", a.simPay)
	}
	mux.Handle("GET /healthz", a.health.Live())
	mux.Handle("GET /readyz", a.health.Ready())
	if a.cfg.Metrics {
		a.metrics.mount(mux)
	}
	a.adminRoutes(mux)
	return mux
}

// opsHandler is what -metrics-addr serves: metrics and the probes with
// the store's error text, for operators only.
func (a *app) opsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", a.opsHealth.Live())
	mux.Handle("GET /readyz", a.opsHealth.Ready())
	a.metrics.mount(mux)
	return mux
}

// runReconciler settles, by order query, the payments whose notification
// did not arrive; it returns when ctx ends.
func (a *app) runReconciler(ctx context.Context) error {
	err := a.reconciler.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (a *app) close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
