// Package handlertest holds end-to-end checks of package handler that any
// store.OrderStore and store.Locker pair must pass, so that modules with
// database drivers (store/sqlstore, store/redisstore) can run them too,
// and Host: the handlers wired to the gateway simulator on a real HTTP
// server, for end-to-end tests of what is built on them.
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
// fulfilment hook call, and a "success" reply to every copy, at the latest
// when the gateway sends it again after a "fail" (see StormResult).
//
// It creates one order with a fresh out_trade_no in st, so st may be a
// shared database that already holds other orders.
func RunDuplicateStorm(t *testing.T, st store.OrderStore, lk store.Locker) {
	t.Helper()
	Storm{Stores: []store.OrderStore{st, st}, Lockers: []store.Locker{lk, lk}, Resend: true}.Run(t).RequireAnswered(t)
}

// Storm is a duplicate-notification storm over several instances of the
// kit: each instance has its own Settler and Notify (as each process
// has), over its own store handle and locker, and the copies of every
// order's notification arrive at once, spread over the instances.
type Storm struct {
	// Stores holds one store per instance; at least one. Give separate
	// handles on one database (separate *sql.DB) to play separate
	// processes. Orders are created through Stores[0].
	Stores []store.OrderStore
	// Lockers holds each instance's Locker; nil, or a nil entry, means
	// none, so NewSettler uses the instance's store as its Locker.
	Lockers []store.Locker
	// Orders is how many orders are stormed at once. Zero means 1.
	Orders int
	// Copies is how many copies of each order's notification are sent.
	// Zero means StormSize.
	Copies int
	// Hook is how long the fulfilment hook works. Zero means 20 ms, long
	// enough for copies to pile up on the lease.
	Hook time.Duration
	// Deadline is each Notify's reply deadline. Zero means 30 s: the storm
	// is then about exactly-once, not latency, and a slow database does
	// not turn copies into "fail". Set 2 s to measure what the gateway
	// would see.
	Deadline time.Duration
	// Resend sends each copy answered anything but success again, up to
	// three times, as the gateway does after "fail", and counts those
	// never answered success in StormResult.Unanswered. Leave it off
	// when most copies are expected to fail (a measurement under a short
	// Deadline): the resends would take minutes.
	Resend bool
}

// redeliverFor bounds the deliveries that see every order fulfilled after
// the storm. It is longer than the Settler's 30 s lease TTL, because a
// delivery cut off by its deadline may leave a lease that no one can
// release but its expiry; the gateway's retries would outlast it too.
const redeliverFor = 90 * time.Second

// StormResult counts what a storm's copies were answered.
type StormResult struct {
	// Replies is the number of copies sent; Success how many were
	// answered "success" the first time.
	Replies, Success int
	// Unanswered is how many copies were still not answered "success"
	// after three more deliveries each (Storm.Resend), as the gateway
	// sends a copy again after "fail". A first "fail" is allowed: a database that
	// gives up on a lock under load (SQLite's busy timeout, say) fails a
	// copy, correctly, and the gateway's retry is the remedy; a copy that
	// fails for good is not.
	Unanswered int
	// Errors holds the first error-level log lines the handlers wrote
	// during the storm, to say why a copy was not answered success.
	Errors []string
	// Redelivered is how many orders were not yet fulfilled when the
	// storm ended (all their hooks' deliveries failed, say at the
	// deadline) and needed more deliveries, as the gateway's retries.
	Redelivered int
}

// settleCounter counts the Settle calls that made the transition, which a
// reply cut off by the deadline would not show, and those whose outcome
// is unknown: an error (a deadline passing during the commit, say) may
// come back from a Settle that the database applied.
type settleCounter struct {
	store.OrderStore
	settled func(outTradeNo string, known bool)
}

func (c settleCounter) Settle(ctx context.Context, outTradeNo string, p store.Payment, now time.Time) (bool, error) {
	ok, err := c.OrderStore.Settle(ctx, outTradeNo, p, now)
	switch {
	case err != nil:
		c.settled(outTradeNo, false)
	case ok:
		c.settled(outTradeNo, true)
	}
	return ok, err
}

// RequireAnswered fails t if a copy was never answered success (see
// Unanswered), and logs why any copy failed the first time.
func (r StormResult) RequireAnswered(t testing.TB) {
	t.Helper()
	if r.Success != r.Replies {
		t.Logf("%d of %d copies were answered success the first time; handler errors: %q",
			r.Success, r.Replies, r.Errors)
	}
	if r.Unanswered != 0 {
		t.Errorf("%d of %d copies were never answered success, even after three more deliveries", r.Unanswered, r.Replies)
	}
}

// Ratio is the share of copies answered success the first time.
func (r StormResult) Ratio() float64 {
	if r.Replies == 0 {
		return 0
	}
	return float64(r.Success) / float64(r.Replies)
}

// Run runs the storm and fails t unless every order made exactly one
// PENDING→PAID transition, ran the fulfilment hook exactly once and never
// concurrently, and ends PAID and fulfilled with its payment. An order
// that no reply left fulfilled is delivered again (the gateway's retry),
// spaced 100 ms apart, until it is fulfilled or redeliverFor has passed,
// before that check; the result counts such orders.
func (s Storm) Run(t *testing.T) StormResult {
	t.Helper()
	if len(s.Stores) == 0 {
		t.Fatal("handlertest: Storm needs at least one store")
	}
	if s.Orders == 0 {
		s.Orders = 1
	}
	if s.Copies == 0 {
		s.Copies = StormSize
	}
	if s.Hook == 0 {
		s.Hook = 20 * time.Millisecond
	}
	if s.Deadline == 0 {
		s.Deadline = 30 * time.Second
	}
	ctx := context.Background()
	stamp := time.Now().UnixNano()
	orders := make([]*store.Order, s.Orders)
	bodies := make([]string, s.Orders)
	for i := range orders {
		otn := fmt.Sprintf("STORM%dN%d", stamp, i)
		if len(otn) > 32 {
			otn = otn[len(otn)-32:]
		}
		now := time.Now()
		o := &store.Order{
			OutTradeNo: otn, BusinessID: "storm-" + otn, Attempt: 1, MchID: stormMch,
			Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
			Amount: 2500, Status: store.Pending, CreatedAt: now, UpdatedAt: now,
		}
		if err := s.Stores[0].Create(ctx, o); err != nil {
			t.Fatalf("create order: %v", err)
		}
		values, err := gatewaytest.NotificationValues(gatewaytest.Payment{
			MchID: stormMch, OutTradeNo: otn, TotalFee: o.Amount, TransactionID: "T" + otn,
		}, stormKey, "")
		if err != nil {
			t.Fatal(err)
		}
		orders[i], bodies[i] = o, values.Encode()
	}

	var (
		mu             sync.Mutex
		calls, settled = map[string]int{}, map[string]int{}
		unknown        = map[string]int{} // Settle calls that ended in an error
		running        = map[string]bool{}
		overlaps       atomic.Int32
	)
	fulfill := func(ctx context.Context, o store.Order) error {
		mu.Lock()
		if running[o.OutTradeNo] {
			overlaps.Add(1)
		}
		running[o.OutTradeNo] = true
		calls[o.OutTradeNo]++
		mu.Unlock()
		time.Sleep(s.Hook) // the host's work, not synchronisation
		mu.Lock()
		running[o.OutTradeNo] = false
		mu.Unlock()
		return nil
	}
	countSettled := func(otn string, known bool) {
		mu.Lock()
		if known {
			settled[otn]++
		} else {
			unknown[otn]++
		}
		mu.Unlock()
	}
	keys := client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{stormMch: stormKey})}
	errs := &lineLog{max: 20}
	logger := slog.New(slog.NewTextHandler(errs, &slog.HandlerOptions{Level: slog.LevelError}))
	var urls []string
	for i, st := range s.Stores {
		var lk store.Locker
		if i < len(s.Lockers) {
			lk = s.Lockers[i]
		}
		if l, ok := st.(store.Locker); ok && lk == nil {
			// What NewSettler does with no Locker; done here because the
			// counting wrapper hides the store's lease methods.
			lk = l
		}
		settler, err := handler.NewSettler(handler.SettlerConfig{
			Store: settleCounter{st, countSettled}, Locker: lk, Fulfill: fulfill, Logger: logger,
		})
		if err != nil {
			t.Fatal(err)
		}
		n, err := handler.NewNotify(handler.NotifyConfig{Settler: settler, Keys: keys, Deadline: s.Deadline, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(n)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}

	total := s.Orders * s.Copies
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: total}, Timeout: time.Minute}
	t.Cleanup(hc.CloseIdleConnections)
	post := func(url, body string) string {
		resp, err := hc.Post(url, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			return "error: " + err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	replies := make([]string, total)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Copy c of order k goes to instance c mod len(urls), so each
			// order's copies are split over every instance.
			k, c := i%s.Orders, i/s.Orders
			replies[i] = post(urls[c%len(urls)], bodies[k])
		}()
	}
	close(start)
	wg.Wait()

	res := StormResult{Replies: total}
	for i, r := range replies {
		if r == "success" {
			res.Success++
			continue
		}
		if !s.Resend {
			continue
		}
		k, c := i%s.Orders, i/s.Orders
		for range 3 {
			if r = post(urls[c%len(urls)], bodies[k]); r == "success" {
				break
			}
		}
		if r != "success" {
			res.Unanswered++
		}
	}
	giveUp := time.Now().Add(redeliverFor)
	for k, o := range orders {
		for try := 0; ; try++ {
			got, err := s.Stores[0].Get(ctx, o.OutTradeNo)
			if err != nil {
				t.Fatal(err)
			}
			if got.Fulfilled || time.Now().After(giveUp) {
				break
			}
			if try == 0 {
				res.Redelivered++
			} else {
				time.Sleep(100 * time.Millisecond) // the gateway spaces its retries too; the loop checks the store, not the time
			}
			post(urls[try%len(urls)], bodies[k])
		}
	}
	res.Errors = errs.lines()
	mu.Lock()
	defer mu.Unlock()
	for _, o := range orders {
		otn := o.OutTradeNo
		// Exactly one transition; one whose Settle ended in an error is
		// not seen, so then none seen is right too (the final state below
		// says the order was settled).
		if n := settled[otn]; n > 1 || n == 0 && unknown[otn] == 0 {
			t.Errorf("%s: PENDING→PAID transitions: got %d (and %d Settle errors), want 1", otn, n, unknown[otn])
		}
		if n := calls[otn]; n != 1 {
			t.Errorf("%s: fulfilment hook calls: got %d, want 1", otn, n)
		}
		got, err := s.Stores[0].Get(ctx, otn)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.Paid || !got.Fulfilled || got.TransactionID != "T"+otn || got.Amount != o.Amount {
			t.Errorf("%s after the storm: got status %s fulfilled %v txn %q amount %d, want PAID, fulfilled, %q, %d",
				otn, got.Status, got.Fulfilled, got.TransactionID, got.Amount, "T"+otn, o.Amount)
		}
	}
	if n := overlaps.Load(); n != 0 {
		t.Errorf("fulfilment hook ran concurrently for one order %d times, want never", n)
	}
	return res
}

// lineLog keeps the first max lines written to it; handlers may still
// write after the storm, so it never touches a testing.T.
type lineLog struct {
	mu   sync.Mutex
	max  int
	kept []string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.kept) < l.max {
		l.kept = append(l.kept, strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (l *lineLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.kept...)
}
