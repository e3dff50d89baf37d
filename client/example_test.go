package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/model"
)

// A v2 client takes a WeChat QR-code pre-order; the simulator stands in
// for https://pay.storepos.cn.
func ExampleClient_PreOrder() {
	sim := gatewaytest.NewServer(gatewaytest.Config{
		Merchants: map[string]string{"00000001": "0123456789abcdef0123456789abcdef"},
	})
	defer sim.Close()

	c, err := client.New(client.Config{
		GatewayURL: sim.URL,
		Keys: client.Keyring{
			MerchantKeys: client.StaticMerchantKeys(map[string]string{"00000001": "0123456789abcdef0123456789abcdef"}),
		},
		PID:        "myshop",
		AppVersion: "1.0",
	})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := c.PreOrder(context.Background(), &model.PreOrderRequest{
		Channel:    model.PayWeChat,
		MchID:      "00000001",
		Body:       "Cola",
		OutTradeNo: "A20260101000001",
		TotalFee:   350, // fen
		TradeType:  model.TradeTypeNative,
		ProductID:  "COLA",
		NotifyURL:  "https://shop.example.com/pay/notify",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.TradeState, strings.HasPrefix(resp.CodeURL, "weixin://wxpay/bizpayurl?pr="))
	// Output: SUCCESS true
}

// When the pre-order answers NEED_QUERY (or times out), the order may
// exist: WaitForPayment queries it on the gateway's 5 s schedule.
func ExampleClient_WaitForPayment() {
	const mch, key = "00000001", "0123456789abcdef0123456789abcdef"
	sim := gatewaytest.NewServer(gatewaytest.Config{
		Merchants: map[string]string{mch: key},
		Faults: func(string) gatewaytest.Faults {
			return gatewaytest.Faults{PreOrderNeedQuery: true}
		},
	})
	defer sim.Close()

	c, err := client.New(client.Config{
		GatewayURL: sim.URL,
		Keys:       client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{mch: key})},
		// Only so that the example runs at once; leave Sleep nil in
		// production.
		Sleep: func(context.Context, time.Duration) error { return nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.PreOrder(ctx, &model.PreOrderRequest{
		Channel: model.PayAlipay, MchID: mch, Body: "Cola", OutTradeNo: "A20260101000002",
		TotalFee: 350, TradeType: model.TradeTypeNative, ProductID: "COLA",
	})
	fmt.Println(errors.Is(err, client.ErrNeedQuery))

	_ = sim.Pay("A20260101000002") // the buyer scans and pays
	resp, err := c.WaitForPayment(ctx, &model.OrderQueryRequest{
		PayType: model.PayAlipay, MchID: mch, OutTradeNo: "A20260101000002",
	}, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Outcome(), resp.TotalFee)
	// Output:
	// true
	// paid 350
}
