package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/google/go-cmp/cmp"
)

var orderTests = []orderTest{
	{"CreateGet", testCreateGet},
	{"CreateDuplicate", testCreateDuplicate},
	{"GetNotFound", testGetNotFound},
	{"ReturnsCopies", testReturnsCopies},
	{"RoundTripAllFields", testRoundTripAllFields},
	{"Buyer", testBuyer},
	{"ExpiresAt", testExpiresAt},
	{"MoneyFacts", testMoneyFacts},
	{"AmountRange", testAmountRange},
	{"ListByBusinessID", testListByBusinessID},
	{"ListByBusinessIDEmpty", testListByBusinessIDEmpty},
	{"SetCheckout", testSetCheckout},
	{"Settle", testSettle},
	{"SettleRepeat", testSettleRepeat},
	{"SettleOtherTransaction", testSettleOtherTransaction},
	{"SettleFinished", testSettleFinished},
	{"SettleNotFound", testSettleNotFound},
	{"SettleConcurrent", testSettleConcurrent},
	{"SettleConcurrentDistinct", testSettleConcurrentDistinct},
	{"MarkFulfilled", testMarkFulfilled},
	{"MarkFulfilledNotPaid", testMarkFulfilledNotPaid},
	{"Finish", testFinish},
	{"FinishNotPending", testFinishNotPending},
	{"FinishBadStatus", testFinishBadStatus},
	{"ContextCanceled", testContextCanceled},
}

// concurrency is how many goroutines race on one attempt.
const concurrency = 64

// base is deliberately not UTC and carries nanoseconds, so a store that
// shifts the instant or drops the sub-second part is caught.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("GMT+8", 8*3600))

// at returns base plus n seconds.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }

// sameInstant compares times as instants to within a microsecond, which is
// what a SQL timestamp keeps (truncated or rounded); the location is
// ignored, and the zero time only equals the zero time.
var sameInstant = cmp.Comparer(func(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond
})

// newOrder returns a PENDING attempt n of business order biz, created at
// at(0).
func newOrder(biz string, n int) *store.Order {
	return &store.Order{
		OutTradeNo: fmt.Sprintf("%sA%03d", biz, n),
		BusinessID: biz,
		Attempt:    n,
		MchID:      "755437000006",
		Channel:    model.PayWeChat,
		TradeType:  "NATIVE",
		Version:    model.V2,
		Amount:     1999,
		Status:     store.Pending,
		CreatedAt:  at(0),
		UpdatedAt:  at(0),
	}
}

// payment returns the payment facts for transaction id tx, money facts
// included.
func payment(tx string) store.Payment {
	return store.Payment{
		TransactionID:        tx,
		ChannelTransactionID: "4200" + tx,
		PaidAt:               at(2),
		Money: store.MoneyFacts{Recorded: true, CouponFee: 99, CashFee: 1900, FeeType: "CNY", BankType: "CFT",
			SubAppID: "wx2421b1c4370ec43b", WxMchID: "1900000109", WxSubMchID: "1900000110"},
	}
}

// paid returns o as Settle(p, now) should leave it.
func paid(o *store.Order, p store.Payment, now time.Time) *store.Order {
	w := *o
	w.Status = store.Paid
	w.TransactionID = p.TransactionID
	w.ChannelTransactionID = p.ChannelTransactionID
	w.PaidAt = p.PaidAt
	w.Money = p.Money
	w.UpdatedAt = now
	return &w
}

func create(t testing.TB, s store.OrderStore, o *store.Order) {
	t.Helper()
	if err := s.Create(context.Background(), o); err != nil {
		t.Fatalf("Create(%s): got error %v, want nil", o.OutTradeNo, err)
	}
}

func get(t testing.TB, s store.OrderStore, outTradeNo string) *store.Order {
	t.Helper()
	o, err := s.Get(context.Background(), outTradeNo)
	if err != nil {
		t.Fatalf("Get(%s): got error %v, want nil", outTradeNo, err)
	}
	if o == nil {
		t.Fatalf("Get(%s): got nil order and nil error", outTradeNo)
	}
	return o
}

func settle(t testing.TB, s store.OrderStore, outTradeNo string, p store.Payment, now time.Time) {
	t.Helper()
	settled, err := s.Settle(context.Background(), outTradeNo, p, now)
	if err != nil || !settled {
		t.Fatalf("Settle(%s): got (%v, %v), want (true, nil)", outTradeNo, settled, err)
	}
}

func finish(t testing.TB, s store.OrderStore, outTradeNo string, st store.Status, now time.Time) {
	t.Helper()
	if err := s.Finish(context.Background(), outTradeNo, st, "test "+string(st), now); err != nil {
		t.Fatalf("Finish(%s, %s): got error %v, want nil", outTradeNo, st, err)
	}
}

// wantOrder fails t unless the stored attempt equals want.
func wantOrder(t testing.TB, s store.OrderStore, want *store.Order) {
	t.Helper()
	got := get(t, s, want.OutTradeNo)
	if diff := cmp.Diff(want, got, sameInstant); diff != "" {
		t.Errorf("Get(%s) mismatch (-want +got):\n%s", want.OutTradeNo, diff)
	}
}

// wantList fails t unless got holds exactly the attempts want, in order.
func wantList(t testing.TB, op string, got []*store.Order, want ...*store.Order) {
	t.Helper()
	if diff := cmp.Diff(want, got, sameInstant); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", op, diff)
	}
}

func wantErr(t testing.TB, op string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", op, err, target)
	}
}

func testCreateGet(t *testing.T, s store.OrderStore) {
	create(t, s, newOrder("BIZ1", 1))
	create(t, s, newOrder("BIZ1", 2))
	wantOrder(t, s, newOrder("BIZ1", 1))
	wantOrder(t, s, newOrder("BIZ1", 2))
}

func testCreateDuplicate(t *testing.T, s store.OrderStore) {
	create(t, s, newOrder("BIZ1", 1))
	dup := newOrder("BIZ1", 1)
	dup.Amount = 1
	dup.BusinessID = "OTHER"
	wantErr(t, "Create(duplicate)", s.Create(context.Background(), dup), store.ErrExists)
	wantOrder(t, s, newOrder("BIZ1", 1))
}

func testGetNotFound(t *testing.T, s store.OrderStore) {
	create(t, s, newOrder("BIZ1", 1))
	o, err := s.Get(context.Background(), "NOSUCHORDER")
	wantErr(t, "Get(unknown)", err, store.ErrNotFound)
	if o != nil {
		t.Errorf("Get(unknown): got order %+v, want nil", o)
	}
}

// testReturnsCopies checks that neither the order handed to Create nor any
// order a method returns aliases what the store keeps.
func testReturnsCopies(t *testing.T, s store.OrderStore) {
	ctx := context.Background()
	in := newOrder("BIZ1", 1)
	create(t, s, in)
	in.Amount = 1
	in.Status = store.Paid
	wantOrder(t, s, newOrder("BIZ1", 1))

	unpaid := newOrder("BIZ1", 2)
	create(t, s, unpaid)
	settle(t, s, unpaid.OutTradeNo, payment("T1"), at(3))
	wantUnpaid := paid(unpaid, payment("T1"), at(3))

	scribble := func(o *store.Order) {
		o.Amount = 1
		o.Status = store.Closed
		o.TransactionID = "SCRIBBLED"
		o.CreatedAt = time.Time{}
	}
	byBiz, err := s.ListByBusinessID(ctx, "BIZ1")
	if err != nil {
		t.Fatalf("ListByBusinessID: got error %v, want nil", err)
	}
	for _, o := range byBiz {
		scribble(o)
	}
	scribble(get(t, s, in.OutTradeNo))
	scribble(get(t, s, unpaid.OutTradeNo))

	wantOrder(t, s, newOrder("BIZ1", 1))
	wantOrder(t, s, wantUnpaid)
}

// fullOrder returns an attempt with every field set to a value that is
// awkward for some storage: non-ASCII text, long text, nanosecond times in
// a non-UTC zone.
func fullOrder() *store.Order {
	return &store.Order{
		OutTradeNo:           "Ab0123456789012345678901234567Zz",
		BusinessID:           "业务订单-42/ü",
		Attempt:              7,
		MchID:                "755437000006",
		Channel:              model.PayAlipay,
		TradeType:            "JSPAY",
		Version:              model.V1,
		Amount:               123456789,
		Status:               store.Paid,
		TransactionID:        "7554370000062026031412345678",
		ChannelTransactionID: "2026031422001400001234567890",
		PaidAt:               at(60),
		Money: store.MoneyFacts{Recorded: true, CouponFee: 456, CashFee: 123456789 - 456, FeeType: "CNY",
			BankType: "ALIPAYACCOUNT", SubAppID: "wx2421b1c4370ec43b", WxMchID: "1900000109", WxSubMchID: "1900000110"},
		Fulfilled:   true,
		FulfilledAt: at(61),
		CodeURL:     "https://qr.alipay.com/bax01234?x=" + strings.Repeat("y", 200),
		PayInfo:     `{"appId":"wx2421b1c4370ec43b","package":"prepay_id=wx2017","paySign":"` + strings.Repeat("Z", 900) + `"}`,
		Buyer:       "0123456789abcdef0123456789abcdef",
		Reason:      "用户取消 'quoted' \"double\" \\ back%slash_under",
		CreatedAt:   at(0),
		UpdatedAt:   at(62),
		ExpiresAt:   at(7200),
		AbandonedAt: at(30),
		NextDue:     at(3600),
	}
}

func testRoundTripAllFields(t *testing.T, s store.OrderStore) {
	want := fullOrder()
	// Catch a field added to Order without the suite learning about it.
	v := reflect.ValueOf(want).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Fatalf("storetest bug: fullOrder leaves Order.%s zero", v.Type().Field(i).Name)
		}
	}
	create(t, s, fullOrder())
	wantOrder(t, s, want)
	list, err := s.ListByBusinessID(context.Background(), want.BusinessID)
	if err != nil {
		t.Fatalf("ListByBusinessID: got error %v, want nil", err)
	}
	wantList(t, "ListByBusinessID", list, want)
}

// testExpiresAt checks that Order.ExpiresAt, which ends the reconciler's
// watch of an attempt, survives Create, Get, ListByBusinessID and the
// changes of status, next to attempts without one: those must read back
// the zero time (recorded before the store kept it), never an instant
// such as the Unix epoch, which would close them at once.
func testExpiresAt(t *testing.T, s store.OrderStore) {
	withExpiry := func(n int, exp time.Time) *store.Order {
		o := newOrder("BIZE", n)
		o.ExpiresAt = exp
		return o
	}
	want := []*store.Order{
		withExpiry(1, at(7200)),
		newOrder("BIZE", 2),
		withExpiry(3, at(60)),
	}
	for _, o := range want {
		w := *o
		create(t, s, &w)
	}
	for _, w := range want {
		if got := get(t, s, w.OutTradeNo); !sameExpiry(got.ExpiresAt, w.ExpiresAt) {
			t.Errorf("Get(%s).ExpiresAt: got %v, want %v", w.OutTradeNo, got.ExpiresAt, w.ExpiresAt)
		}
	}
	list, err := s.ListByBusinessID(context.Background(), "BIZE")
	if err != nil {
		t.Fatalf("ListByBusinessID: got error %v, want nil", err)
	}
	wantList(t, "ListByBusinessID(BIZE)", list, want...)
	// Leaving PENDING keeps the expiry: it says what the attempt was.
	settle(t, s, want[0].OutTradeNo, payment("TE1"), at(3))
	finish(t, s, want[2].OutTradeNo, store.Closed, at(61))
	for _, w := range want {
		if got := get(t, s, w.OutTradeNo); !sameExpiry(got.ExpiresAt, w.ExpiresAt) {
			t.Errorf("after Settle and Finish: Get(%s).ExpiresAt: got %v, want %v", w.OutTradeNo, got.ExpiresAt, w.ExpiresAt)
		}
	}
}

// testMoneyFacts checks that Payment.Money, what accounting and refunds
// read of a payment (coupon, cash, currency, bank, WeChat ids), is kept by
// the Settle that makes the attempt PAID, survives Get, ListByBusinessID
// and the later changes (fulfilment, a repeat), and is never replaced by a
// repeated Settle; a payment whose facts were not recorded reads back
// none, every fact empty.
func testMoneyFacts(t *testing.T, s store.OrderStore) {
	withFacts, without := newOrder("BIZM", 1), newOrder("BIZM", 2)
	create(t, s, withFacts)
	create(t, s, without)
	p := payment("TM1")
	settle(t, s, withFacts.OutTradeNo, p, at(3))
	bare := payment("TM2")
	bare.Money = store.MoneyFacts{}
	settle(t, s, without.OutTradeNo, bare, at(4))

	again := p
	again.Money = store.MoneyFacts{Recorded: true, CouponFee: 0, CashFee: 1999, FeeType: "USD"}
	if settled, err := s.Settle(context.Background(), withFacts.OutTradeNo, again, at(5)); settled || err != nil {
		t.Errorf("Settle(same transaction, other facts): got (%v, %v), want (false, nil)", settled, err)
	}
	if err := s.MarkFulfilled(context.Background(), withFacts.OutTradeNo, at(6)); err != nil {
		t.Fatalf("MarkFulfilled: %v", err)
	}
	for _, w := range []struct {
		otn  string
		want store.MoneyFacts
	}{{withFacts.OutTradeNo, p.Money}, {without.OutTradeNo, store.MoneyFacts{}}} {
		if got := get(t, s, w.otn); got.Money != w.want {
			t.Errorf("Get(%s).Money: got %+v, want %+v", w.otn, got.Money, w.want)
		}
	}
	list, err := s.ListByBusinessID(context.Background(), "BIZM")
	if err != nil {
		t.Fatalf("ListByBusinessID: got error %v, want nil", err)
	}
	if len(list) != 2 || list[0].Money != p.Money || list[1].Money != (store.MoneyFacts{}) {
		t.Errorf("ListByBusinessID(BIZM) money facts: got %v, want [%+v, none]", moneyOf(list), p.Money)
	}
}

func moneyOf(list []*store.Order) []store.MoneyFacts {
	out := make([]store.MoneyFacts, len(list))
	for i, o := range list {
		out[i] = o.Money
	}
	return out
}

// sameExpiry compares expiries as sameInstant does.
func sameExpiry(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond
}

// testBuyer checks that Order.Buyer, which decides whether the pre-order
// handler may hand a JSPAY attempt's pay_info to a request, survives
// Create, Get and ListByBusinessID next to attempts without one (those
// read back "", as must attempts recorded before a store kept it).
func testBuyer(t *testing.T, s store.OrderStore) {
	withBuyer := func(n int, buyer string) *store.Order {
		o := newOrder("BIZB", n)
		o.TradeType = "JSPAY"
		o.Buyer = buyer
		return o
	}
	want := []*store.Order{
		withBuyer(1, "9f86d081884c7d659a2feaa0c55ad015"),
		newOrder("BIZB", 2),
		withBuyer(3, "60303ae22b998861bce3b28f33eec1be"),
	}
	for _, o := range want {
		w := *o
		create(t, s, &w)
	}
	for _, w := range want {
		if got := get(t, s, w.OutTradeNo); got.Buyer != w.Buyer {
			t.Errorf("Get(%s).Buyer: got %q, want %q", w.OutTradeNo, got.Buyer, w.Buyer)
		}
	}
	list, err := s.ListByBusinessID(context.Background(), "BIZB")
	if err != nil {
		t.Fatalf("ListByBusinessID: got error %v, want nil", err)
	}
	wantList(t, "ListByBusinessID(BIZB)", list, want...)
	settle(t, s, want[0].OutTradeNo, payment("TB1"), at(3))
	wantOrder(t, s, paid(want[0], payment("TB1"), at(3)))
}

func testAmountRange(t *testing.T, s store.OrderStore) {
	amounts := []int64{1, 1<<53 - 1, 1 << 53, 1<<53 + 1, math.MaxInt64 - 1, math.MaxInt64}
	var want []*store.Order
	for i, a := range amounts {
		o := newOrder("BIZAMT", i+1)
		o.Amount = a
		create(t, s, o)
		w := *o
		want = append(want, &w)
	}
	for _, w := range want {
		got := get(t, s, w.OutTradeNo)
		if got.Amount != w.Amount {
			t.Errorf("Get(%s).Amount: got %d, want %d", w.OutTradeNo, got.Amount, w.Amount)
		}
	}
	settle(t, s, want[len(want)-1].OutTradeNo, payment("T1"), at(3))
	want[len(want)-1] = paid(want[len(want)-1], payment("T1"), at(3))
	list, err := s.ListByBusinessID(context.Background(), "BIZAMT")
	if err != nil {
		t.Fatalf("ListByBusinessID: got error %v, want nil", err)
	}
	wantList(t, "ListByBusinessID", list, want...)
}

func testListByBusinessID(t *testing.T, s store.OrderStore) {
	for _, n := range []int{3, 1, 10, 2} {
		create(t, s, newOrder("BIZ1", n))
	}
	create(t, s, newOrder("BIZ2", 1))
	create(t, s, newOrder("BIZ10", 4))
	got, err := s.ListByBusinessID(context.Background(), "BIZ1")
	if err != nil {
		t.Fatalf("ListByBusinessID: got error %v, want nil", err)
	}
	wantList(t, "ListByBusinessID(BIZ1)", got,
		newOrder("BIZ1", 1), newOrder("BIZ1", 2), newOrder("BIZ1", 3), newOrder("BIZ1", 10))
}

func testListByBusinessIDEmpty(t *testing.T, s store.OrderStore) {
	create(t, s, newOrder("BIZ1", 1))
	got, err := s.ListByBusinessID(context.Background(), "NOSUCHBIZ")
	if err != nil {
		t.Fatalf("ListByBusinessID(unknown): got error %v, want nil", err)
	}
	if got == nil || len(got) != 0 {
		t.Errorf("ListByBusinessID(unknown): got %#v, want a non-nil empty slice", got)
	}
}

func testSetCheckout(t *testing.T, s store.OrderStore) {
	ctx := context.Background()
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	create(t, s, newOrder("BIZ1", 2))
	if err := s.SetCheckout(ctx, o.OutTradeNo, "weixin://wxpay/bizpayurl?pr=first", "", at(4)); err != nil {
		t.Fatalf("SetCheckout: got error %v, want nil", err)
	}
	if err := s.SetCheckout(ctx, o.OutTradeNo, "weixin://wxpay/bizpayurl?pr=abc", `{"appId":"wx1"}`, at(5)); err != nil {
		t.Fatalf("SetCheckout (again): got error %v, want nil", err)
	}
	want := newOrder("BIZ1", 1)
	want.CodeURL = "weixin://wxpay/bizpayurl?pr=abc"
	want.PayInfo = `{"appId":"wx1"}`
	want.UpdatedAt = at(5)
	wantOrder(t, s, want)
	wantOrder(t, s, newOrder("BIZ1", 2))
	wantErr(t, "SetCheckout(unknown)", s.SetCheckout(ctx, "NOSUCHORDER", "u", "p", at(5)), store.ErrNotFound)
}

func testSettle(t *testing.T, s store.OrderStore) {
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	create(t, s, newOrder("BIZ1", 2))
	settle(t, s, o.OutTradeNo, payment("T1"), at(3))
	wantOrder(t, s, paid(o, payment("T1"), at(3)))
	wantOrder(t, s, newOrder("BIZ1", 2))
}

func testSettleRepeat(t *testing.T, s store.OrderStore) {
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	settle(t, s, o.OutTradeNo, payment("T1"), at(3))
	want := paid(o, payment("T1"), at(3))

	again := payment("T1")
	again.ChannelTransactionID = "different"
	again.PaidAt = at(9)
	again.Money.CouponFee, again.Money.CashFee = 0, 1999
	settled, err := s.Settle(context.Background(), o.OutTradeNo, again, at(10))
	if settled || err != nil {
		t.Errorf("Settle(same transaction): got (%v, %v), want (false, nil)", settled, err)
	}
	wantOrder(t, s, want)
}

func testSettleOtherTransaction(t *testing.T, s store.OrderStore) {
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	settle(t, s, o.OutTradeNo, payment("T1"), at(3))
	settled, err := s.Settle(context.Background(), o.OutTradeNo, payment("T2"), at(10))
	if settled {
		t.Errorf("Settle(other transaction): got settled=true, want false")
	}
	wantErr(t, "Settle(other transaction)", err, store.ErrConflict)
	wantOrder(t, s, paid(o, payment("T1"), at(3)))
}

func testSettleFinished(t *testing.T, s store.OrderStore) {
	for _, st := range []store.Status{store.Failed, store.Closed} {
		t.Run(string(st), func(t *testing.T) {
			o := newOrder("BIZ"+string(st), 1)
			create(t, s, o)
			finish(t, s, o.OutTradeNo, st, at(5))
			want := get(t, s, o.OutTradeNo)
			settled, err := s.Settle(context.Background(), o.OutTradeNo, payment("T1"), at(10))
			if settled {
				t.Errorf("Settle(%s): got settled=true, want false", st)
			}
			wantErr(t, "Settle("+string(st)+")", err, store.ErrConflict)
			wantOrder(t, s, want)
		})
	}
}

func testSettleNotFound(t *testing.T, s store.OrderStore) {
	create(t, s, newOrder("BIZ1", 1))
	settled, err := s.Settle(context.Background(), "NOSUCHORDER", payment("T1"), at(3))
	if settled {
		t.Errorf("Settle(unknown): got settled=true, want false")
	}
	wantErr(t, "Settle(unknown)", err, store.ErrNotFound)
	wantOrder(t, s, newOrder("BIZ1", 1))
}

// race runs fn(i) for i in [0, concurrency) on as many goroutines released
// at once, and waits for all of them.
func race(fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func testSettleConcurrent(t *testing.T, s store.OrderStore) {
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	var winners, last atomic.Int32
	errs := make([]error, concurrency)
	race(func(i int) {
		settled, err := s.Settle(context.Background(), o.OutTradeNo, payment("T1"), at(100+i))
		errs[i] = err
		if settled {
			winners.Add(1)
			last.Store(int32(i))
		}
	})
	winner := int(last.Load())
	for i, err := range errs {
		if err != nil {
			t.Errorf("Settle #%d (same transaction): got error %v, want nil", i, err)
		}
	}
	if n := winners.Load(); n != 1 {
		t.Fatalf("%d concurrent Settle calls: got %d with settled=true, want exactly 1", concurrency, n)
	}
	wantOrder(t, s, paid(o, payment("T1"), at(100+winner)))
}

func testSettleConcurrentDistinct(t *testing.T, s store.OrderStore) {
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	var winners, last atomic.Int32
	errs := make([]error, concurrency)
	race(func(i int) {
		settled, err := s.Settle(context.Background(), o.OutTradeNo, payment(fmt.Sprintf("T%d", i)), at(100+i))
		errs[i] = err
		if settled {
			winners.Add(1)
			last.Store(int32(i))
		}
	})
	winner := int(last.Load())
	if n := winners.Load(); n != 1 {
		t.Fatalf("%d concurrent Settle calls with distinct transactions: got %d with settled=true, want exactly 1", concurrency, n)
	}
	for i, err := range errs {
		if i == winner {
			if err != nil {
				t.Errorf("Settle #%d (winner): got error %v, want nil", i, err)
			}
			continue
		}
		wantErr(t, fmt.Sprintf("Settle #%d (loser)", i), err, store.ErrConflict)
	}
	wantOrder(t, s, paid(o, payment(fmt.Sprintf("T%d", winner)), at(100+winner)))
}

func testMarkFulfilled(t *testing.T, s store.OrderStore) {
	ctx := context.Background()
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	settle(t, s, o.OutTradeNo, payment("T1"), at(3))
	if err := s.MarkFulfilled(ctx, o.OutTradeNo, at(20)); err != nil {
		t.Fatalf("MarkFulfilled: got error %v, want nil", err)
	}
	want := paid(o, payment("T1"), at(3))
	want.Fulfilled = true
	want.FulfilledAt = at(20)
	want.UpdatedAt = at(20)
	wantOrder(t, s, want)

	if err := s.MarkFulfilled(ctx, o.OutTradeNo, at(30)); err != nil {
		t.Fatalf("MarkFulfilled (repeat): got error %v, want nil", err)
	}
	wantOrder(t, s, want)
}

func testMarkFulfilledNotPaid(t *testing.T, s store.OrderStore) {
	ctx := context.Background()
	pending := newOrder("BIZ1", 1)
	create(t, s, pending)
	failed := newOrder("BIZ1", 2)
	create(t, s, failed)
	finish(t, s, failed.OutTradeNo, store.Failed, at(5))
	wantFailed := get(t, s, failed.OutTradeNo)

	wantErr(t, "MarkFulfilled(PENDING)", s.MarkFulfilled(ctx, pending.OutTradeNo, at(20)), store.ErrConflict)
	wantErr(t, "MarkFulfilled(FAILED)", s.MarkFulfilled(ctx, failed.OutTradeNo, at(20)), store.ErrConflict)
	wantErr(t, "MarkFulfilled(unknown)", s.MarkFulfilled(ctx, "NOSUCHORDER", at(20)), store.ErrNotFound)
	wantOrder(t, s, newOrder("BIZ1", 1))
	wantOrder(t, s, wantFailed)
}

func testFinish(t *testing.T, s store.OrderStore) {
	for _, st := range []store.Status{store.Failed, store.Closed} {
		t.Run(string(st), func(t *testing.T) {
			o := newOrder("BIZ"+string(st), 1)
			create(t, s, o)
			if err := s.Finish(context.Background(), o.OutTradeNo, st, "原因: timeout", at(7)); err != nil {
				t.Fatalf("Finish(%s): got error %v, want nil", st, err)
			}
			want := newOrder("BIZ"+string(st), 1)
			want.Status = st
			want.Reason = "原因: timeout"
			want.UpdatedAt = at(7)
			wantOrder(t, s, want)
		})
	}
	wantErr(t, "Finish(unknown)", s.Finish(context.Background(), "NOSUCHORDER", store.Closed, "r", at(7)), store.ErrNotFound)
}

func testFinishNotPending(t *testing.T, s store.OrderStore) {
	ctx := context.Background()
	p := newOrder("BIZ1", 1)
	create(t, s, p)
	settle(t, s, p.OutTradeNo, payment("T1"), at(3))
	f := newOrder("BIZ1", 2)
	create(t, s, f)
	finish(t, s, f.OutTradeNo, store.Failed, at(4))
	c := newOrder("BIZ1", 3)
	create(t, s, c)
	finish(t, s, c.OutTradeNo, store.Closed, at(4))
	var before []*store.Order
	for _, o := range []*store.Order{p, f, c} {
		before = append(before, get(t, s, o.OutTradeNo))
	}
	for _, o := range before {
		for _, st := range []store.Status{store.Failed, store.Closed} {
			op := fmt.Sprintf("Finish(%s -> %s)", o.Status, st)
			wantErr(t, op, s.Finish(ctx, o.OutTradeNo, st, "late", at(9)), store.ErrConflict)
		}
		wantOrder(t, s, o)
	}
}

func testFinishBadStatus(t *testing.T, s store.OrderStore) {
	o := newOrder("BIZ1", 1)
	create(t, s, o)
	for _, st := range []store.Status{store.Pending, store.Paid, store.Refunded, "", "closed", "BOGUS"} {
		op := fmt.Sprintf("Finish(PENDING -> %q)", st)
		wantErr(t, op, s.Finish(context.Background(), o.OutTradeNo, st, "bad", at(9)), store.ErrConflict)
	}
	wantOrder(t, s, newOrder("BIZ1", 1))
}

// testContextCanceled calls every method with a context that has already
// ended: each must report context.Canceled and change nothing.
func testContextCanceled(t *testing.T, s store.OrderStore) {
	pending := newOrder("BIZ1", 1)
	create(t, s, pending)
	p := newOrder("BIZ1", 2)
	create(t, s, p)
	settle(t, s, p.OutTradeNo, payment("T1"), at(3))
	wantPaid := paid(p, payment("T1"), at(3))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"Create", func() error { return s.Create(ctx, newOrder("BIZ1", 3)) }},
		{"Get", func() error { _, err := s.Get(ctx, pending.OutTradeNo); return err }},
		{"ListByBusinessID", func() error { _, err := s.ListByBusinessID(ctx, "BIZ1"); return err }},
		{"SetCheckout", func() error { return s.SetCheckout(ctx, pending.OutTradeNo, "u", "p", at(9)) }},
		{"Settle", func() error {
			settled, err := s.Settle(ctx, pending.OutTradeNo, payment("T2"), at(9))
			if settled {
				t.Errorf("Settle(canceled): got settled=true, want false")
			}
			return err
		}},
		{"MarkFulfilled", func() error { return s.MarkFulfilled(ctx, p.OutTradeNo, at(9)) }},
		{"Finish", func() error { return s.Finish(ctx, pending.OutTradeNo, store.Closed, "r", at(9)) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.name+"(canceled)", c.call(), context.Canceled)
			wantOrder(t, s, newOrder("BIZ1", 1))
			wantOrder(t, s, wantPaid)
			if _, err := s.Get(context.Background(), newOrder("BIZ1", 3).OutTradeNo); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(order created with canceled ctx): got error %v, want %v", err, store.ErrNotFound)
			}
		})
	}
}
