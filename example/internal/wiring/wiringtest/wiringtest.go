// Package wiringtest serves a wiring.Kit behind a framework's router and
// pays an order through it, for the wiring examples' smoke tests.
package wiringtest

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cypaykit/kit/example/internal/wiring"
)

// Serve builds a wiring.Kit, mounts it with router on a loopback port and stops
// both when t ends. It returns the base URL and the Kit.
func Serve(t testing.TB, router func(*wiring.Kit) http.Handler) (string, *wiring.Kit) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	k, err := wiring.New(base+"/pay/notify", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: router(k), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		k.Sim.Close()
	})
	return base, k
}

// CheckFlow drives a mounted Kit at base the way a shop does: pre-order
// of order 1001 over JSON, the simulated buyer pays, the simulator posts
// its signed notification to /pay/notify, GET /pay/orders/{no} turns
// PAID and fulfilled, and GET /pay/orders?order_id=1001 shows that attempt. It fails t at the first step that does not.
func CheckFlow(t testing.TB, base string, k *wiring.Kit) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"order_id": "1001", "channel": "WECHAT", "trade_type": "NATIVE"})
	res, err := http.Post(base+"/pay/preorder", "application/json", bytes.NewReader(body))
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
	if res.StatusCode != http.StatusCreated || err != nil || pre.CodeURL == "" || pre.Amount != wiring.Orders["1001"] {
		t.Fatalf("POST /pay/preorder: got %d %+v (%v), want 201 with a code_url and amount %d", res.StatusCode, pre, err, wiring.Orders["1001"])
	}
	if err := k.Sim.Pay(pre.OutTradeNo); err != nil {
		t.Fatalf("Sim.Pay: %v", err)
	}
	var st struct {
		OutTradeNo string `json:"out_trade_no"`
		Status     string `json:"status"`
		Fulfilled  bool   `json:"fulfilled"`
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := http.Get(base + "/pay/orders/" + pre.OutTradeNo)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || err != nil || st.OutTradeNo != pre.OutTradeNo {
			t.Fatalf("GET /pay/orders/%s: got %d %+v (%v), want 200 for that order", pre.OutTradeNo, res.StatusCode, st, err)
		}
		if st.Status == "PAID" && st.Fulfilled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s: got %+v after 15 s, want PAID and fulfilled", pre.OutTradeNo, st)
		}
	}
	// The business order's lookup route reaches the same attempt.
	res, err = http.Get(base + "/pay/orders?order_id=1001")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || err != nil || st.OutTradeNo != pre.OutTradeNo || st.Status != "PAID" {
		t.Errorf("GET /pay/orders?order_id=1001: got %d %+v (%v), want 200 PAID %s", res.StatusCode, st, err, pre.OutTradeNo)
	}
	// The reply reaches the simulator just after the store commit.
	k.Sim.WaitIdle(10 * time.Second)
	if !k.Sim.Settled(pre.OutTradeNo) {
		t.Errorf("the simulator did not get %q for its notification", "success")
	}
}
