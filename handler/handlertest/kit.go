package handlertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// The one business order a Kit's pre-order resolver knows, and its
// merchant.
const (
	KitOrderID = "SHOP1"
	KitAmount  = 1999
	KitMchID   = "M100001"
	KitMchKey  = "merchant-key-a-0123456789abcdef"
)

// Kit is what a host mounts — the pre-order, notification and status
// handlers on an in-memory store — wired to a gateway simulator. It is
// for tests of the code that mounts the handlers (routers, framework
// adapters), which then prove a whole payment with CheckPayment.
type Kit struct {
	// Sim is the gateway simulator the handlers talk to.
	Sim *gatewaytest.Server
	// Store holds the Kit's attempts.
	Store *memstore.Store
	// PreOrder is the pre-order proxy; mount it at POST /pay/preorder.
	PreOrder http.Handler
	// Notify is the notification handler; mount it at POST /pay/notify,
	// where NewKit's notifyURL points.
	Notify http.Handler
	// Status reads r.PathValue("out_trade_no").
	Status    http.Handler
	fulfilled atomic.Int32
}

// NewKit starts a simulator, closed when t ends, and builds the handlers.
// notifyURL is where the test will mount Notify (the simulator posts
// there); CheckPayment expects the kit under /pay.
func NewKit(t testing.TB, notifyURL string) *Kit {
	t.Helper()
	k := &Kit{Store: memstore.New()}
	k.Sim = gatewaytest.RunT(t, gatewaytest.Config{
		Merchants: map[string]string{KitMchID: KitMchKey}, TimeScale: 0.001,
	})
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{KitMchID: KitMchKey})}
	cl, err := client.New(client.Config{GatewayURL: k.Sim.URL, OpenURL: k.Sim.URL, Version: model.V2, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	settler, err := handler.NewSettler(handler.SettlerConfig{
		Store:  k.Store,
		Logger: log,
		Fulfill: func(context.Context, store.Order) error {
			k.fulfilled.Add(1)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if k.Notify, err = handler.NewNotify(handler.NotifyConfig{Settler: settler, Keys: keys, Logger: log}); err != nil {
		t.Fatal(err)
	}
	if k.Status, err = handler.NewStatus(handler.StatusConfig{Store: k.Store, Logger: log}); err != nil {
		t.Fatal(err)
	}
	k.PreOrder, err = handler.NewPreOrder(handler.PreOrderConfig{
		Store: k.Store, Client: cl, NotifyURL: notifyURL, Logger: log, Authorize: handler.AllowAnyone,
		Resolve: func(_ context.Context, id string) (handler.Purchase, error) {
			if id != KitOrderID {
				return handler.Purchase{}, fmt.Errorf("order %q: %w", id, handler.ErrOrderNotFound)
			}
			return handler.Purchase{MchID: KitMchID, Amount: KitAmount, Body: "coffee"}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// CheckPayment drives one payment through the server at base, which mounts
// the kit at POST /pay/preorder, POST /pay/notify and
// GET /pay/orders/{out_trade_no}: a pre-order, the simulated buyer paying,
// the simulator's notification, and the status, which must show the order
// PAID, fulfilled once, with the simulator's transaction id.
func (k *Kit) CheckPayment(t testing.TB, base string) {
	t.Helper()
	res, err := http.Post(base+"/pay/preorder", "application/json",
		bytes.NewReader([]byte(`{"order_id":"`+KitOrderID+`","channel":"WECHAT","trade_type":"NATIVE"}`)))
	if err != nil {
		t.Fatal(err)
	}
	var pre handler.OrderView
	decodeJSON(t, res, http.StatusCreated, &pre)
	if pre.OutTradeNo == "" || pre.CodeURL == "" || pre.Amount != KitAmount || pre.Status != string(store.Pending) {
		t.Fatalf("pre-order: got %+v, want a PENDING code_url for %d fen", pre, KitAmount)
	}
	if err := k.Sim.Pay(pre.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	if !k.Sim.WaitIdle(30 * time.Second) {
		t.Fatal("the simulator's notification deliveries did not finish")
	}
	if !k.Sim.Settled(pre.OutTradeNo) {
		t.Fatalf("notification not acknowledged: %+v", k.Sim.Deliveries(pre.OutTradeNo))
	}
	res, err = http.Get(base + "/pay/orders/" + pre.OutTradeNo)
	if err != nil {
		t.Fatal(err)
	}
	var view handler.OrderView
	decodeJSON(t, res, http.StatusOK, &view)
	simOrder, _ := k.Sim.Order(pre.OutTradeNo)
	if view.Status != string(store.Paid) || !view.Fulfilled || view.TransactionID != simOrder.TransactionID || view.OrderID != KitOrderID {
		t.Errorf("status: got %+v, want PAID, fulfilled, transaction %q", view, simOrder.TransactionID)
	}
	if n := k.fulfilled.Load(); n != 1 {
		t.Errorf("fulfilment hook ran %d times, want 1", n)
	}
}

func decodeJSON(t testing.TB, res *http.Response, wantStatus int, dst any) {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != wantStatus {
		t.Fatalf("%s %s: got status %d (%s), want %d", res.Request.Method, res.Request.URL.Path, res.StatusCode, b, wantStatus)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		t.Fatalf("reply %q: %v", b, err)
	}
}
