// Package wiring builds the kit's handlers once for the chi, gin and echo
// wiring examples, so that each of them shows only what differs: how the
// framework mounts them. It runs against an in-process gateway simulator
// with an in-memory store; example/checkout shows the full set of options.
package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// The simulator's demo merchant.
const (
	MchID  = "00000001"
	MchKey = "0123456789abcdef0123456789abcdef"
)

// Orders stands in for the host's order table: business order id to
// amount in fen. The pre-order handler asks Resolve, never the browser.
var Orders = map[string]int64{"1001": 1800, "1002": 4500}

// Kit is the set of handlers a host mounts, plus the simulator they talk to.
type Kit struct {
	// PreOrder answers POST {order_id, channel, trade_type}.
	PreOrder http.Handler
	// Notify receives the gateway's notifications (POST, form body).
	Notify http.Handler
	// Status answers GET with r.PathValue("out_trade_no") set.
	Status http.Handler
	// Reconciler settles what notifications miss; run it in the background.
	Reconciler *handler.Reconciler
	// Sim is the simulated gateway: Sim.Pay(outTradeNo) plays the buyer.
	Sim *gatewaytest.Server
}

// New starts a simulator and builds the handlers; notifyURL is where the
// host will mount Kit.Notify. Close the returned Kit's Sim when done.
func New(notifyURL string, log *slog.Logger) (*Kit, error) {
	sim, err := gatewaytest.Start(gatewaytest.Config{Merchants: map[string]string{MchID: MchKey}})
	if err != nil {
		return nil, err
	}
	k, err := build(sim, notifyURL, log)
	if err != nil {
		sim.Close()
		return nil, err
	}
	return k, nil
}

func build(sim *gatewaytest.Server, notifyURL string, log *slog.Logger) (*Kit, error) {
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{MchID: MchKey})}
	c, err := client.New(client.Config{GatewayURL: sim.URL, OpenURL: sim.URL, Keys: keys})
	if err != nil {
		return nil, err
	}
	st := memstore.New()
	settler, err := handler.NewSettler(handler.SettlerConfig{
		Store: st,
		Fulfill: func(ctx context.Context, o store.Order) error {
			log.InfoContext(ctx, "ship the goods", slog.String("order_id", o.BusinessID))
			return nil
		},
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	k := &Kit{Sim: sim}
	if k.Notify, err = handler.NewNotify(handler.NotifyConfig{Settler: settler, Keys: keys, Logger: log}); err != nil {
		return nil, err
	}
	if k.PreOrder, err = handler.NewPreOrder(handler.PreOrderConfig{
		Store: st, Client: c, Resolve: resolve, NotifyURL: notifyURL, Logger: log,
		// A demo without accounts: every caller may pay. A shop checks
		// its session or a token it gave the buyer (see example/checkout).
		Authorize: handler.AllowAnyone,
	}); err != nil {
		return nil, err
	}
	if k.Status, err = handler.NewStatus(handler.StatusConfig{Store: st, Logger: log}); err != nil {
		return nil, err
	}
	if k.Reconciler, err = handler.NewReconciler(handler.ReconcilerConfig{Settler: settler, Client: c, Logger: log}); err != nil {
		return nil, err
	}
	return k, nil
}

func resolve(ctx context.Context, orderID string) (handler.Purchase, error) {
	amount, ok := Orders[orderID]
	if !ok {
		return handler.Purchase{}, fmt.Errorf("%w: no order %q", handler.ErrOrderNotFound, orderID)
	}
	return handler.Purchase{MchID: MchID, Amount: amount, Body: "demo order " + orderID}, nil
}
