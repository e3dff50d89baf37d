package refund_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// ExampleRefunder refunds part of a paid attempt against the simulator,
// then repeats the request with the same idempotency key (a retried click)
// and gets the same refund back.
func ExampleRefunder() {
	sim := gatewaytest.NewServer(gatewaytest.Config{
		Merchants: map[string]string{"M100001": "merchant-key"},
		Faults:    func(string) gatewaytest.Faults { return gatewaytest.Faults{NoNotify: true} },
	})
	defer sim.Close()
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{"M100001": "merchant-key"})}
	gw, err := client.New(client.Config{GatewayURL: sim.URL, Keys: keys})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// A paid attempt, here made by hand: normally PreOrder and Notify do it.
	_, _ = gw.PreOrder(ctx, &model.PreOrderRequest{Channel: model.PayWeChat, MchID: "M100001", Body: "Cola",
		OutTradeNo: "SO2024050101", TotalFee: 1999, TradeType: model.TradeTypeNative, ProductID: "COLA"})
	_ = sim.Pay("SO2024050101")
	st := memstore.New()
	now := time.Now()
	_ = st.Create(ctx, &store.Order{OutTradeNo: "SO2024050101", BusinessID: "SO20240501", Attempt: 1, MchID: "M100001",
		Channel: model.PayWeChat, Version: model.V2, Amount: 1999, Status: store.Pending, CreatedAt: now, UpdatedAt: now})
	_, _ = st.Settle(ctx, "SO2024050101", store.Payment{TransactionID: "T1", PaidAt: now}, now)

	// snippet:begin refund
	refunder, err := refund.New(refund.Config{Store: st, Client: gw})
	if err != nil {
		log.Fatal(err)
	}
	// In production also run: go refunder.Run(ctx, 15*time.Second) — it queries refunds in flight.
	req := refund.Request{BusinessID: "SO20240501", Amount: 500, Reason: "one cola short", IdempotencyKey: "ticket-42"}
	v, err := refunder.Refund(ctx, req) // the same IdempotencyKey returns the same refund
	fmt.Println(v.OutRefundNo, v.Amount, v.Status, err)
	// snippet:end refund
	again, err := refunder.Refund(ctx, req)
	fmt.Println(again.OutRefundNo, again.Status, err)
	req.Amount = 600
	_, err = refunder.Refund(ctx, req)
	fmt.Println(err != nil)
	// Output:
	// SO2024050101-01 500 SUCCESS <nil>
	// SO2024050101-01 SUCCESS <nil>
	// true
}
