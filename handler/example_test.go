package handler_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// Example mounts the kit on a plain net/http server: the notification
// receiver, the pre-order proxy, order status, and the reconciler.
func Example() {
	st := memstore.New() // use sqlstore (and redisstore's Locker) in production
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{"M100001": "merchant-key"})}
	gw, err := client.New(client.Config{Keys: keys}) // v2, production gateway
	if err != nil {
		log.Fatal(err)
	}
	settler, err := handler.NewSettler(handler.SettlerConfig{
		Store: st,
		Fulfill: func(ctx context.Context, o store.Order) error {
			log.Printf("ship business order %s", o.BusinessID) // must be idempotent
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	notify, err := handler.NewNotify(handler.NotifyConfig{Settler: settler, Keys: keys})
	if err != nil {
		log.Fatal(err)
	}
	preorder, err := handler.NewPreOrder(handler.PreOrderConfig{
		Store: st, Client: gw, NotifyURL: "https://shop.example/pay/notify",
		Resolve: func(ctx context.Context, orderID string) (handler.Purchase, error) {
			// Look the order up in your own database; never trust the browser's amount.
			return handler.Purchase{}, fmt.Errorf("order %s: %w", orderID, handler.ErrOrderNotFound)
		},
		// Only the order's buyer may start its payments: check your
		// session, or a token you gave the buyer with the order.
		Authorize: func(r *http.Request, orderID string) bool {
			return false // nobody, until you check
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	status, err := handler.NewStatus(handler.StatusConfig{Store: st})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := handler.NewReconciler(handler.ReconcilerConfig{Settler: settler, Client: gw})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("POST /pay/notify", notify)
	mux.Handle("POST /pay/preorder", preorder)
	mux.Handle("GET /pay/orders/{out_trade_no}", status)
	mux.Handle("GET /pay/orders", status) // ?order_id= or ?out_trade_no=
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go rec.Run(ctx)
	_ = &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	// srv.ListenAndServe()
}

// ExampleNewNotify answers a signed notification for a pending order.
func ExampleNewNotify() {
	st := memstore.New()
	now := time.Now()
	_ = st.Create(context.Background(), &store.Order{
		OutTradeNo: "SO2024050101", BusinessID: "SO20240501", Attempt: 1, MchID: "M100001",
		Channel: model.PayWeChat, Version: model.V2, Amount: 1999,
		Status: store.Pending, CreatedAt: now, UpdatedAt: now,
	})
	settler, _ := handler.NewSettler(handler.SettlerConfig{
		Store: st,
		Fulfill: func(ctx context.Context, o store.Order) error {
			fmt.Println("fulfil", o.BusinessID, o.Amount)
			return nil
		},
	})
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{"M100001": "merchant-key"})}
	notify, err := handler.NewNotify(handler.NotifyConfig{Settler: settler, Keys: keys})
	if err != nil {
		fmt.Println(err)
		return
	}

	// What the gateway posts (gatewaytest signs it like the gateway does).
	form, _ := gatewaytest.NotificationValues(gatewaytest.Payment{
		MchID: "M100001", OutTradeNo: "SO2024050101", TotalFee: 1999,
	}, "merchant-key", "")
	for range 2 { // the gateway may send it more than once
		r := httptest.NewRequest(http.MethodPost, "/pay/notify", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		notify.ServeHTTP(w, r)
		fmt.Println(w.Body.String())
	}
	o, _ := st.Get(context.Background(), "SO2024050101")
	fmt.Println(o.Status, o.Fulfilled)
	// Output:
	// fulfil SO20240501 1999
	// success
	// success
	// PAID true
}

// ExampleNewStatus reads an attempt's state as JSON.
func ExampleNewStatus() {
	st := memstore.New()
	now := time.Now()
	_ = st.Create(context.Background(), &store.Order{
		OutTradeNo: "SO2024050101", BusinessID: "SO20240501", Attempt: 1, MchID: "M100001",
		Channel: model.PayAlipay, TradeType: "NATIVE", Version: model.V2, Amount: 1999,
		Status: store.Pending, CodeURL: "https://qr.alipay.com/x", CreatedAt: now, UpdatedAt: now,
	})
	status, _ := handler.NewStatus(handler.StatusConfig{Store: st})
	mux := http.NewServeMux()
	mux.Handle("GET /pay/orders/{out_trade_no}", status)

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/pay/orders/SO2024050101", nil))
	fmt.Print(w.Body.String())
	// Output:
	// {"out_trade_no":"SO2024050101","order_id":"SO20240501","amount":1999,"channel":"ALIPAY","trade_type":"NATIVE","status":"PENDING","code_url":"https://qr.alipay.com/x","fulfilled":false,"refunded":0}
}

// ExampleNewStatus_authorize shows order status only to the buyer who
// holds the order's token (here a header; the example shop signs one into
// its replies): everyone else gets the 404 of an unknown order.
func ExampleNewStatus_authorize() {
	st := memstore.New()
	now := time.Now()
	_ = st.Create(context.Background(), &store.Order{
		OutTradeNo: "SO2024050101", BusinessID: "SO20240501", Attempt: 1, MchID: "M100001",
		Channel: model.PayWeChat, TradeType: "JSPAY", Version: model.V2, Amount: 1999,
		Status: store.Pending, PayInfo: `{"paySign":"..."}`, CreatedAt: now, UpdatedAt: now,
	})
	tokens := map[string]string{"SO20240501": "t0k3n"} // the shop's own record
	status, _ := handler.NewStatus(handler.StatusConfig{
		Store: st,
		Authorize: func(r *http.Request, o *store.Order) handler.StatusAccess {
			if tok, ok := tokens[o.BusinessID]; ok && r.Header.Get("X-Order-Token") == tok {
				return handler.StatusPayer
			}
			return handler.StatusDenied
		},
	})
	mux := http.NewServeMux()
	mux.Handle("GET /pay/orders/{out_trade_no}", status)

	for _, token := range []string{"guess", "t0k3n"} {
		r := httptest.NewRequest(http.MethodGet, "/pay/orders/SO2024050101", nil)
		r.Header.Set("X-Order-Token", token)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.Contains(w.Body.String(), "paySign"))
	}
	// Output:
	// 404 false
	// 200 true
}
