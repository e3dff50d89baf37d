package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
)

const (
	testMchID  = "00000001"
	testMchKey = "0123456789abcdef0123456789abcdef"
)

// serve runs mount(cfg) against a gateway simulator on a loopback port,
// with its reconciler, and returns the base URL and the simulator.
func serve(t *testing.T) (string, *gatewaytest.Server) {
	t.Helper()
	sim := gatewaytest.RunT(t, gatewaytest.Config{Merchants: map[string]string{testMchID: testMchKey}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	h, rec, err := mount(config{GatewayURL: sim.URL, MchID: testMchID, MchKey: testMchKey, NotifyURL: base + "/pay/notify"})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = rec.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return base, sim
}

type statusReply struct {
	OutTradeNo string `json:"out_trade_no"`
	OrderID    string `json:"order_id"`
	Amount     int64  `json:"amount"`
	Status     string `json:"status"`
	Fulfilled  bool   `json:"fulfilled"`
}

func getStatus(t *testing.T, url string) (int, statusReply) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st statusReply
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return res.StatusCode, st
}

// TestQuickStartTakesAPayment runs the README's mount function over real
// HTTP against the simulator: pre-order of order 1001, the simulated buyer
// pays, the simulator posts its signed notification, and the order reads
// PAID and fulfilled, shipped exactly once, on both status routes, to the
// holder of its token only.
func TestQuickStartTakesAPayment(t *testing.T) {
	base, sim := serve(t)
	before := orders.Shipments("1001")

	body, _ := json.Marshal(map[string]string{"order_id": "1001", "channel": "WECHAT", "trade_type": "NATIVE"})
	res, err := http.Post(base+"/pay/preorder?token=demo-token-1001", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var pre struct {
		OutTradeNo string `json:"out_trade_no"`
		CodeURL    string `json:"code_url"`
		Amount     int64  `json:"amount"`
	}
	err = json.NewDecoder(res.Body).Decode(&pre)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || err != nil || pre.CodeURL == "" || pre.Amount != 1800 {
		t.Fatalf("POST /pay/preorder: got %d %+v (%v), want 201 with a code_url and amount 1800", res.StatusCode, pre, err)
	}
	if err := sim.Pay(pre.OutTradeNo); err != nil {
		t.Fatalf("sim.Pay: %v", err)
	}

	byNo := base + "/pay/orders/" + pre.OutTradeNo + "?token=demo-token-1001"
	var st statusReply
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, got := getStatus(t, byNo)
		if code != http.StatusOK || got.OutTradeNo != pre.OutTradeNo {
			t.Fatalf("GET %s: got %d %+v, want 200 for that order", byNo, code, got)
		}
		if st = got; st.Status == "PAID" && st.Fulfilled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s: got %+v after 30 s, want PAID and fulfilled", pre.OutTradeNo, st)
		}
	}
	if st.Amount != 1800 || st.OrderID != "1001" {
		t.Errorf("status = %+v, want order 1001 for 1800 fen", st)
	}
	if !sim.WaitIdle(10 * time.Second) {
		t.Fatal("the simulator kept delivering for 10 s")
	}
	if !sim.Settled(pre.OutTradeNo) {
		t.Errorf("the simulator did not get %q for its notification", "success")
	}
	if n := orders.Shipments("1001") - before; n != 1 {
		t.Errorf("Ship ran %d times for order 1001, want once", n)
	}

	// The business order's route reaches the same attempt.
	if code, got := getStatus(t, base+"/pay/orders?order_id=1001&token=demo-token-1001"); code != http.StatusOK || got.OutTradeNo != pre.OutTradeNo || got.Status != "PAID" {
		t.Errorf("GET /pay/orders?order_id=1001: got %d %+v, want 200 PAID %s", code, got, pre.OutTradeNo)
	}
	// Without the token, or with a wrong one, the order does not exist.
	for _, q := range []string{"", "?token=guess"} {
		if code, _ := getStatus(t, base+"/pay/orders/"+pre.OutTradeNo+q); code != http.StatusNotFound {
			t.Errorf("GET /pay/orders/%s%s: got %d, want 404", pre.OutTradeNo, q, code)
		}
	}
}

// TestQuickStartRefusesStrangers: a pre-order without the order's token,
// with another order's, or for an order the book does not hold, is a 403
// that records nothing and reaches no gateway (an unknown order looks
// like a known one: the refusal comes before the lookup of the price).
func TestQuickStartRefusesStrangers(t *testing.T) {
	base, sim := serve(t)
	for _, tc := range []struct{ name, query, body string }{
		{"no token", "", `{"order_id":"1002","channel":"WECHAT","trade_type":"NATIVE"}`},
		{"another order's token", "?token=demo-token-1001", `{"order_id":"1002","channel":"WECHAT","trade_type":"NATIVE"}`},
		{"unknown order", "?token=demo-token-1001", `{"order_id":"9999","channel":"WECHAT","trade_type":"NATIVE"}`},
	} {
		res, err := http.Post(base+"/pay/preorder"+tc.query, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: got %d, want 403", tc.name, res.StatusCode)
		}
	}
	for _, otn := range []string{handler.OutTradeNo("1002", 1), handler.OutTradeNo("9999", 1)} {
		if _, ok := sim.Order(otn); ok {
			t.Errorf("a refused pre-order reached the gateway as %s", otn)
		}
	}
}

// TestConfigFromEnvRefusesMissing: each required variable, left empty,
// stops the program at start-up with its name.
func TestConfigFromEnvRefusesMissing(t *testing.T) {
	full := map[string]string{
		"CYPAY_MCH_ID": testMchID, "CYPAY_MCH_KEY": testMchKey,
		"CYPAY_NOTIFY_URL": "https://shop.example.com/pay/notify", "CYPAY_GATEWAY_URL": "", "CYPAY_ADDR": "",
	}
	for k, v := range full {
		t.Setenv(k, v)
	}
	cfg, err := configFromEnv()
	if err != nil || cfg.Addr != "127.0.0.1:8080" || cfg.MchKey != testMchKey {
		t.Fatalf("configFromEnv() = %+v, %v; want the values and the default address", cfg, err)
	}
	for _, name := range []string{"CYPAY_MCH_ID", "CYPAY_MCH_KEY", "CYPAY_NOTIFY_URL"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, " ")
			if _, err := configFromEnv(); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("configFromEnv() with %s blank: err = %v, want one naming it", name, err)
			}
		})
	}
}

// TestMountRefusesEmptyNotifyURL: the wiring error that a snippet with
// dropped errors once hid until a nil-pointer panic is an error here.
func TestMountRefusesEmptyNotifyURL(t *testing.T) {
	h, rec, err := mount(config{MchID: testMchID, MchKey: testMchKey})
	if err == nil || h != nil || rec != nil {
		t.Errorf("mount without NotifyURL = %v, %v, %v; want an error and nothing else", h, rec, err)
	}
}
