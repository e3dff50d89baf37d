// Package handlertest holds end-to-end checks of package handler that any
// store.OrderStore and store.Locker pair must pass, so that modules with
// database drivers (store/sqlstore, store/redisstore) can run them too.
package handlertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// StormSize is how many copies of one notification RunDuplicateStorm sends.
const StormSize = 200

const (
	stormMch = "M300001"
	stormKey = "storm-merchant-key-0123456789ab"
)

// RunDuplicateStorm proves guarantees G2 and G3 on st and lk: StormSize
// concurrent copies of one valid notification, split across two Notify
// handlers (each with its own Settler, as two processes would have) that
// share st and lk, give exactly one PENDING→PAID transition, one
// fulfilment hook call, and a "success" reply to every copy.
//
// It creates one order with a fresh out_trade_no in st, so st may be a
// shared database that already holds other orders.
func RunDuplicateStorm(t *testing.T, st store.OrderStore, lk store.Locker) {
	t.Helper()
	ctx := context.Background()
	otn := fmt.Sprintf("STORM%d", time.Now().UnixNano())
	if len(otn) > 32 {
		otn = otn[:32]
	}
	now := time.Now()
	order := &store.Order{
		OutTradeNo: otn, BusinessID: "storm-" + otn, Attempt: 1, MchID: stormMch,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: 2500, Status: store.Pending, CreatedAt: now, UpdatedAt: now,
	}
	if err := st.Create(ctx, order); err != nil {
		t.Fatalf("create order: %v", err)
	}
	values, err := gatewaytest.NotificationValues(gatewaytest.Payment{
		MchID: stormMch, OutTradeNo: otn, TotalFee: order.Amount, TransactionID: "T" + otn,
	}, stormKey, "")
	if err != nil {
		t.Fatal(err)
	}
	body := values.Encode()

	var (
		calls, running, overlap, settled atomic.Int32
	)
	fulfill := func(ctx context.Context, o store.Order) error {
		if running.Add(1) > 1 {
			overlap.Add(1)
		}
		defer running.Add(-1)
		calls.Add(1)
		// Long enough for the other copies to pile up on the lease.
		time.Sleep(20 * time.Millisecond)
		return nil
	}
	observe := func(e handler.Event) {
		if e.Outcome == handler.Settled {
			settled.Add(1)
		}
	}
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{stormMch: stormKey})}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var urls []string
	for range 2 {
		s, err := handler.NewSettler(handler.SettlerConfig{
			Store: st, Locker: lk, Fulfill: fulfill, Observe: observe, Logger: logger,
		})
		if err != nil {
			t.Fatal(err)
		}
		// The storm is about exactly-once, not latency: a generous deadline
		// keeps a slow database from turning copies into "fail".
		n, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: keys, Deadline: 30 * time.Second, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(n)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: StormSize}, Timeout: time.Minute}
	t.Cleanup(hc.CloseIdleConnections)
	replies := make([]string, StormSize)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range StormSize {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := hc.Post(urls[i%2], "application/x-www-form-urlencoded", strings.NewReader(body))
			if err != nil {
				replies[i] = "error: " + err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			replies[i] = string(b)
		}()
	}
	close(start)
	wg.Wait()

	bad := 0
	for i, r := range replies {
		if r != "success" {
			bad++
			if bad <= 5 {
				t.Errorf("reply %d: got %q, want success", i, r)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d replies were not success", bad, StormSize)
	}
	if n := settled.Load(); n != 1 {
		t.Errorf("PENDING→PAID transitions: got %d, want 1", n)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("fulfilment hook calls: got %d, want 1", n)
	}
	if n := overlap.Load(); n != 0 {
		t.Errorf("fulfilment hook ran concurrently %d times, want never", n)
	}
	got, err := st.Get(ctx, otn)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.Paid || !got.Fulfilled || got.TransactionID != "T"+otn || got.Amount != order.Amount {
		t.Errorf("order after the storm: got status %s fulfilled %v txn %q amount %d, want PAID, fulfilled, %q, %d",
			got.Status, got.Fulfilled, got.TransactionID, got.Amount, "T"+otn, order.Amount)
	}
}
