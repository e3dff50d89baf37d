package kitecho_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/middleware/kitecho"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// TestGatewayEndToEnd runs echo over real HTTP with the kit's handlers
// against the gateway simulator: pre-order, simulated payment, the
// simulator's notification through the kit middleware, and the status
// under /pay/orders/:out_trade_no.
func TestGatewayEndToEnd(t *testing.T) {
	t.Parallel()
	sim := gatewaytest.RunT(t, gatewaytest.Config{
		Merchants: map[string]string{mchID: mchKey},
		TimeScale: 0.001,
	})
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{mchID: mchKey})}
	cl, err := client.New(client.Config{GatewayURL: sim.URL, OpenURL: sim.URL, Version: model.V2, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New()
	var fulfilled atomic.Int32
	settler, err := handler.NewSettler(handler.SettlerConfig{
		Store: mem,
		Fulfill: func(context.Context, store.Order) error {
			fulfilled.Add(1)
			return nil
		},
		Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	notify, err := handler.NewNotify(handler.NotifyConfig{Settler: settler, Keys: keys, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	status, err := handler.NewStatus(handler.StatusConfig{Store: mem, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}

	// The server's address is needed for notify_url before the routes exist.
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	preorder, err := handler.NewPreOrder(handler.PreOrderConfig{
		Store: mem, Client: cl, NotifyURL: base + "/pay/notify", Logger: quiet(),
		Resolve: func(_ context.Context, id string) (handler.Purchase, error) {
			if id != "SHOP1" {
				return handler.Purchase{}, fmt.Errorf("order %q: %w", id, handler.ErrOrderNotFound)
			}
			return handler.Purchase{MchID: mchID, Amount: 1999, Body: "coffee"}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	e := newEcho()
	pay := e.Group("/pay", kitecho.Middleware(middleware.Recover(middleware.RecoverConfig{Logger: quiet()})))
	pay.POST("/preorder", kitecho.Handler(preorder))
	pay.POST("/notify", kitecho.Handler(notify), kitecho.Middleware(middleware.BodyLimit(64<<10)))
	pay.GET("/orders/:out_trade_no", kitecho.Handler(status))
	srv.Config.Handler = e
	srv.Start()
	t.Cleanup(srv.Close)

	res, err := http.Post(base+"/pay/preorder", "application/json",
		bytes.NewReader([]byte(`{"order_id":"SHOP1","channel":"WECHAT","trade_type":"NATIVE"}`)))
	if err != nil {
		t.Fatal(err)
	}
	var pre handler.OrderView
	decodeJSON(t, res, http.StatusCreated, &pre)
	if pre.OutTradeNo == "" || pre.CodeURL == "" || pre.Amount != 1999 || pre.Status != string(store.Pending) {
		t.Fatalf("pre-order: got %+v, want a PENDING code_url for 1999 fen", pre)
	}

	if err := sim.Pay(pre.OutTradeNo); err != nil {
		t.Fatal(err)
	}
	if !sim.WaitIdle(30 * time.Second) {
		t.Fatal("the simulator's notification deliveries did not finish")
	}
	if !sim.Settled(pre.OutTradeNo) {
		t.Fatalf("notification not acknowledged through echo: %+v", sim.Deliveries(pre.OutTradeNo))
	}

	res, err = http.Get(base + "/pay/orders/" + pre.OutTradeNo)
	if err != nil {
		t.Fatal(err)
	}
	var view handler.OrderView
	decodeJSON(t, res, http.StatusOK, &view)
	simOrder, _ := sim.Order(pre.OutTradeNo)
	if view.Status != string(store.Paid) || !view.Fulfilled || view.TransactionID != simOrder.TransactionID || view.OrderID != "SHOP1" {
		t.Errorf("status: got %+v, want PAID, fulfilled, transaction %q", view, simOrder.TransactionID)
	}
	if n := fulfilled.Load(); n != 1 {
		t.Errorf("fulfilment hook ran %d times, want 1", n)
	}
}

func decodeJSON(tb testing.TB, res *http.Response, wantStatus int, dst any) {
	tb.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if res.StatusCode != wantStatus {
		tb.Fatalf("%s %s: got status %d (%s), want %d", res.Request.Method, res.Request.URL.Path, res.StatusCode, b, wantStatus)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		tb.Fatalf("reply %q: %v", b, err)
	}
}
