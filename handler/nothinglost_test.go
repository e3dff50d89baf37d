package handler_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// flakyStore fails a seeded fraction of Settle and Get calls. It leaves
// MarkFulfilled alone: a hook whose success cannot be recorded runs again
// (at least once), which is the host's to make idempotent.
type flakyStore struct {
	store.OrderStore
	mu    sync.Mutex
	rnd   *rand.Rand
	ratio float64
	fails atomic.Int32
}

func (s *flakyStore) fail() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rnd.Float64() < s.ratio {
		s.fails.Add(1)
		return true
	}
	return false
}

func (s *flakyStore) Get(ctx context.Context, otn string) (*store.Order, error) {
	if s.fail() {
		return nil, errInjected
	}
	return s.OrderStore.Get(ctx, otn)
}

func (s *flakyStore) Settle(ctx context.Context, otn string, p store.Payment, now time.Time) (bool, error) {
	if s.fail() {
		return false, errInjected
	}
	return s.OrderStore.Settle(ctx, otn, p, now)
}

// TestNothingLost proves G2, G3, G4 and G7 together: 500 orders, 80 % paid
// at the simulator with seeded random faults (lost, dropped, duplicated,
// forged and tampered notifications; NEED_QUERY, 502 and slow pre-orders;
// a flaky store; a flaky hook), handlers and reconciler running at once.
// At the end every paid order is PAID and fulfilled exactly once and no
// unpaid order is PAID.
func TestNothingLost(t *testing.T) {
	t.Parallel()
	const orders = 500
	// A fixed seed keeps the fault mix stable; CYPAY_TEST_SEED explores others.
	seed := int64(20240501)
	if s, err := strconv.ParseInt(os.Getenv("CYPAY_TEST_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (set CYPAY_TEST_SEED to change)", seed)
	rnd := rand.New(rand.NewSource(seed))
	faultMenu := []gatewaytest.Faults{
		{},
		{NoNotify: true},
		{DropNotify: true},
		{Duplicates: 3},
		{WrongKey: true},
		{TamperAmount: 1},
		{TamperMchID: mchB},
		{ExtraFields: map[string]string{"gmt_create": "20240101120000", "promo": "x"}},
		{PreOrderNeedQuery: true},
		{PreOrderStatus: http.StatusBadGateway},
		{PreOrderDelay: 500 * time.Millisecond},
	}
	type plan struct {
		id     string
		otn    string
		faults gatewaytest.Faults
		pay    bool
		fail   bool // pay_result=1
	}
	plans := make([]plan, orders)
	for i := range plans {
		p := plan{id: fmt.Sprintf("NL%04d", i), faults: faultMenu[rnd.Intn(len(faultMenu))]}
		p.otn = handler.OutTradeNo(p.id, 1)
		switch x := rnd.Float64(); {
		case x < 0.8:
			p.pay = true
		case x < 0.85:
			p.fail = true
		}
		plans[i] = p
	}
	byOTN := map[string]gatewaytest.Faults{}
	for _, p := range plans {
		byOTN[p.otn] = p.faults
	}
	fs := &flakyStore{rnd: rand.New(rand.NewSource(seed + 1)), ratio: 0.1}
	e := newEnv(t, envOptions{
		timeScale:     0.0001,
		clientTimeout: 300 * time.Millisecond,
		faults:        func(otn string) gatewaytest.Faults { return byOTN[otn] },
		wrap:          func(m *memstore.Store) store.OrderStore { fs.OrderStore = m; return fs },
	})
	e.Hooks.Decide(func(o store.Order, call int) error {
		h := fnv.New32a()
		h.Write([]byte(o.OutTradeNo))
		if call == 1 && h.Sum32()%7 == 0 {
			return errors.New("first fulfilment fails")
		}
		return nil
	})

	r := e.reconciler(t, model.V2)
	ctx, stop := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		// A reconciler running alongside the notifications, on a clock
		// that moves 5 s per pass.
		defer bg.Done()
		for ctx.Err() == nil {
			e.Clock.Advance(5 * time.Second)
			_ = r.RunOnce(ctx)
			time.Sleep(10 * time.Millisecond)
		}
	}()

	var unknown sync.Map // out_trade_no -> true: never reached the gateway
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, p := range plans {
		e.AddOrder(p.id, mchA, int64(100+len(p.id)))
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			res := e.PreOrder(t, model.V2, map[string]any{"order_id": p.id, "channel": "WECHAT"})
			if res.OutTradeNo != p.otn || (res.Status != http.StatusCreated && res.Status != http.StatusAccepted) {
				t.Errorf("pre-order %s: got %d %q, want 201/202 %q", p.id, res.Status, res.OutTradeNo, p.otn)
				return
			}
			switch {
			case p.pay:
				err := e.Sim.Pay(p.otn)
				if errors.Is(err, gatewaytest.ErrUnknownOrder) && res.Status == http.StatusAccepted {
					// The pre-order timed out before the gateway saw it:
					// nobody can pay it.
					unknown.Store(p.otn, true)
				} else if err != nil {
					t.Errorf("pay %s: %v", p.otn, err)
				}
			case p.fail:
				err := e.Sim.FailPayment(p.otn)
				if errors.Is(err, gatewaytest.ErrUnknownOrder) && res.Status == http.StatusAccepted {
					unknown.Store(p.otn, true)
				} else if err != nil {
					t.Errorf("fail %s: %v", p.otn, err)
				}
			}
		}()
	}
	wg.Wait()
	e.WaitIdle(t)
	stop()
	bg.Wait()
	// Final passes, past every schedule step, with a reliable store.
	fs.mu.Lock()
	fs.ratio = 0
	fs.mu.Unlock()
	// The first may still meet a failing first hook call, and on a
	// loaded machine a query may still miss the client's 300 ms timeout
	// (the chaos above needs it short); passes go on until one finds
	// nothing left to do, at most 20.
	var err error
	for pass := 0; pass < 4 || err != nil && pass < 20; pass++ {
		e.Clock.Advance(10 * time.Minute)
		err = r.RunOnce(context.Background())
	}
	if err != nil {
		t.Fatalf("last of 20 passes: %v", err)
	}

	lost := 0
	for _, p := range plans {
		o := e.Get(t, p.otn)
		sim, _ := e.Sim.Order(p.otn)
		if _, ok := unknown.Load(p.otn); ok {
			p.pay, p.fail = false, false
		}
		if p.pay {
			if o.Status != store.Paid || !o.Fulfilled || o.TransactionID != sim.TransactionID || e.Hooks.OK(p.otn) != 1 {
				lost++
				t.Errorf("%s (%s): got %s (%s) fulfilled=%v hook ok=%d, want PAID, fulfilled once; gateway %s; %d deliveries",
					p.otn, faultName(p.faults), o.Status, o.Reason, o.Fulfilled, e.Hooks.OK(p.otn), sim.State, len(e.Sim.Deliveries(p.otn)))
			}
			continue
		}
		if o.Status == store.Paid || e.Hooks.Calls(p.otn) != 0 {
			t.Errorf("%s: unpaid order got %s, hook calls %d", p.otn, o.Status, e.Hooks.Calls(p.otn))
		}
		if p.fail && o.Status != store.Failed && o.Status != store.Closed {
			t.Errorf("%s: failed payment got %s, want FAILED or CLOSED", p.otn, o.Status)
		}
	}
	if n := e.Hooks.Overlaps(); n != 0 {
		t.Errorf("hook overlaps: got %d, want 0", n)
	}
	if a := e.Rec.Alerts(); len(a) != 0 {
		t.Errorf("alerts: got %d (first %+v), want 0", len(a), a[0])
	}
	t.Logf("%d orders, %d lost; %d injected store failures", orders, lost, fs.fails.Load())
}
