package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// openAttempt starts a simulator holding an open attempt CHECK0001 of 100
// fen for merchant 00000001, and a shop (the kit's Notify over a memstore
// that holds the same attempt).
func openAttempt(t *testing.T) (sim *gatewaytest.Server, shop *httptest.Server) {
	t.Helper()
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{"00000001": testKey})}
	sim = simWithOrders(t, gatewaytest.Config{}, "CHECK0001")
	st := memstore.New()
	now := time.Now()
	if err := st.Create(context.Background(), &store.Order{OutTradeNo: "CHECK0001", BusinessID: "B1", Attempt: 1,
		MchID: "00000001", Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: 100, Status: store.Pending, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	settler, err := handler.NewSettler(handler.SettlerConfig{Store: st, Locker: st, Logger: quiet,
		Fulfill: func(context.Context, store.Order) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: settler, Keys: keys, Logger: quiet,
		Deadline: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	shop = httptest.NewServer(n)
	t.Cleanup(shop.Close)
	return sim, shop
}

func checkArgs(shopURL string, extra ...string) []string {
	return append([]string{"check-endpoint", "-url", shopURL + "/pay/notify", "-mch-id", "00000001",
		"-out-trade-no", "CHECK0001", "-total-fee", "100", "-slow-for", "4s", "-oversize", "200000"}, extra...)
}

func TestCheckEndpointCommandPassesTheKit(t *testing.T) {
	t.Setenv("CYPAY_KEY", testKey)
	sim, shop := openAttempt(t)
	code, out, errOut := runCLI(t, "", checkArgs(shop.URL, "-gateway", sim.URL)...)
	if code != exitOK || !strings.Contains(out, "all 12 checks passed") || strings.Contains(out, "FAIL") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "trade_state=") {
		t.Errorf("the gateway query's answer is not shown:\n%s", out)
	}
	if strings.Contains(out+errOut, testKey) {
		t.Error("check-endpoint printed the key")
	}
}

func TestCheckEndpointCommandFailsABrokenShop(t *testing.T) {
	t.Setenv("CYPAY_KEY", testKey)
	yes := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "success")
	}))
	t.Cleanup(yes.Close)
	// It answers success to everything, the slow body too, so how long
	// that body takes changes nothing: 1.5 s, not checkArgs' 4 s (the
	// last -cutoff and -slow-for given win).
	code, out, errOut := runCLI(t, "", checkArgs(yes.URL, "-cutoff", "1s", "-slow-for", "1500ms")...)
	if code != exitFail || !strings.Contains(out, "FAIL") || !strings.Contains(errOut, "checks failed") {
		t.Fatalf("a shop answering success to everything: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestCheckEndpointCommandUsage(t *testing.T) {
	t.Setenv("CYPAY_KEY", testKey)
	for _, args := range [][]string{
		{"check-endpoint", "-mch-id", "M", "-out-trade-no", "O", "-total-fee", "1"},
		{"check-endpoint", "-url", "http://x", "-out-trade-no", "O", "-total-fee", "1"},
		{"check-endpoint", "-url", "http://x", "-mch-id", "M", "-out-trade-no", "O"},
		{"check-endpoint", "-url", "http://x", "-mch-id", "M", "-out-trade-no", "O", "-total-fee", "1", "-slow-for", "1s"},
		{"check-endpoint", "-url", "ftp://x", "-mch-id", "M", "-out-trade-no", "O", "-total-fee", "1"},
	} {
		if code, _, _ := runCLI(t, "", args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}
