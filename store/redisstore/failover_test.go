package redisstore_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// waitBound bounds every wait in TestLeaseLostMidHook; it only ends a
// broken test sooner than never.
const waitBound = 30 * time.Second

// TestLeaseLostMidHook: on a Redis failover a lease can vanish
// (replication is asynchronous), here by a real DEL while the fulfilment
// hook runs. A second instance that then gets the same notification takes
// the Redis lease, but must not run the hook beside the first: the
// Settler also holds the order store's own lease, which lives with the
// orders and does not vanish with Redis. Hook runs at once stay at one,
// and the order is fulfilled once.
func TestLeaseLostMidHook(t *testing.T) {
	rdb := newClient(t)
	prefix := newPrefix(t, rdb)
	st := memstore.New() // the shared order store (and its own leases)
	const mch, key = "M900001", "failover-merchant-key-0123456789"
	now := time.Now()
	o := &store.Order{
		OutTradeNo: "FAILOVER1A001", BusinessID: "FAILOVER1", Attempt: 1, MchID: mch,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: 2500, Status: store.Pending, CreatedAt: now, UpdatedAt: now,
	}
	if err := st.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	values, err := gatewaytest.NotificationValues(gatewaytest.Payment{
		MchID: mch, OutTradeNo: o.OutTradeNo, TotalFee: o.Amount, TransactionID: "TFAILOVER1",
	}, key, "")
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu            sync.Mutex
		running, most int
		runs          int
		entered       = make(chan struct{})
		release       = make(chan struct{})
		releaseOnce   sync.Once
	)
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	fulfill := func(ctx context.Context, o store.Order) error {
		mu.Lock()
		running++
		runs++
		most = max(most, running)
		first := runs == 1
		mu.Unlock()
		if first {
			close(entered)
			select { // the first run works until the test lets it finish
			case <-release:
			case <-time.After(waitBound):
			}
		}
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	}
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{mch: key})}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var urls []string
	for range 2 { // two instances, each with its own Redis client
		settler, err := handler.NewSettler(handler.SettlerConfig{
			Store: st, Locker: newLocker(t, newClient(t), prefix), Fulfill: fulfill, Logger: quiet,
		})
		if err != nil {
			t.Fatal(err)
		}
		n, err := handler.NewNotify(handler.NotifyConfig{Settler: settler, Keys: keys, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(n)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	post := func(u string) string {
		res, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(url.Values(values).Encode()))
		if err != nil {
			return err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return strings.TrimSpace(string(b))
	}

	firstReply := make(chan string, 1)
	go func() { firstReply <- post(urls[0]) }()
	select {
	case <-entered:
	case <-time.After(waitBound):
		t.Fatal("the first instance's hook never started")
	}
	// The failover: the lease key is gone while the hook runs.
	lost, err := rdb.Keys(context.Background(), prefix+"*").Result()
	if err != nil || len(lost) != 1 {
		t.Fatalf("lease keys while the hook runs: got %v (%v), want one", lost, err)
	}
	if err := rdb.Del(context.Background(), lost...).Err(); err != nil {
		t.Fatal(err)
	}
	if got := post(urls[1]); got != "success" {
		t.Errorf("second instance's reply: got %q, want success (the fulfilment is in flight)", got)
	}
	releaseOnce.Do(func() { close(release) })
	select {
	case got := <-firstReply:
		if got != "success" {
			t.Errorf("first instance's reply: got %q, want success", got)
		}
	case <-time.After(waitBound):
		t.Fatal("the first instance never answered")
	}
	mu.Lock()
	defer mu.Unlock()
	if most > 1 {
		t.Errorf("hook runs at once: up to %d, want 1", most)
	}
	if runs != 1 {
		t.Errorf("hook runs: got %d, want 1", runs)
	}
	if got, err := st.Get(context.Background(), o.OutTradeNo); err != nil || !got.Fulfilled {
		t.Errorf("order after the storm: got %+v (%v), want fulfilled", got, err)
	}
}
