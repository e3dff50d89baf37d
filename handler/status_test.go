package handler_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/gatewaytest"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// TestStatus: lookups by path, by query parameter and by business order,
// and a 404; the JSON never carries keys or gateway payloads (G9).
func TestStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	o := e.CreatePending(t, "STATUS01", mchA, model.V2, 1500)
	v := signedNotification(t, o, keyA, func(p *gatewaytest.Payment) { p.TransactionID = "TXSTATUS" })
	if got := e.PostNotify(t, v); got != "success" {
		t.Fatalf("notify: got %q", got)
	}
	paid := e.Get(t, o.OutTradeNo)
	want := handler.OrderView{
		OutTradeNo: "STATUS01", OrderID: "BSTATUS01", Amount: 1500, Channel: "WECHAT", TradeType: "NATIVE",
		Status: "PAID", PaidAt: &paid.PaidAt, Fulfilled: true, TransactionID: "TXSTATUS",
		OutTransactionID: v.Get("out_transaction_id"),
		Money:            &handler.MoneyView{CouponFee: 0, CashFee: 1500, FeeType: "CNY", BankType: "CFT"},
	}
	for _, path := range []string{"/orders/STATUS01", "/orders?out_trade_no=STATUS01", "/orders?order_id=BSTATUS01"} {
		t.Run(path, func(t *testing.T) {
			resp, err := http.Get(e.Server.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.StatusCode)
			}
			var got handler.OrderView
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b *time.Time) bool { return a.Equal(*b) })); diff != "" {
				t.Errorf("view (-want +got):\n%s", diff)
			}
			for _, secret := range []string{keyA, agentKey, v.Get("sign"), v.Get("nonce_str")} {
				if strings.Contains(body, secret) {
					t.Errorf("status body carries a secret or payload field: %s", body)
				}
			}
		})
	}
	for _, path := range []string{"/orders/NOSUCH01", "/orders?order_id=NOSUCH"} {
		resp, err := http.Get(e.Server.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: got %d %s, want 404 problem", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	st, _ := handler.NewStatus(handler.StatusConfig{Store: e.Mem})
	if rec := httptestRecorder(st, http.MethodPost, "/?out_trade_no=STATUS01", "", ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: got %d, want 405", rec.Code)
	}
	if rec := httptestRecorder(st, http.MethodGet, "/", "", ""); rec.Code != http.StatusBadRequest {
		t.Errorf("no id: got %d, want 400", rec.Code)
	}
}

// TestStatusPrefersPaidAttempt: by business order, a PAID attempt wins
// over later ones.
func TestStatusPrefersPaidAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	for i, status := range []store.Status{store.Paid, store.Pending} {
		otn := handler.OutTradeNo("MULTI1", i+1)
		now := e.Clock.Now()
		if err := e.Mem.Create(ctx, &store.Order{OutTradeNo: otn, BusinessID: "MULTI1", Attempt: i + 1, MchID: mchA,
			Channel: model.PayWeChat, Version: model.V2, Amount: 10, Status: store.Pending, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if status == store.Paid {
			if _, err := e.Mem.Settle(ctx, otn, store.Payment{TransactionID: "T1", PaidAt: now}, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec := httptestRecorder(mustStatus(t, e), http.MethodGet, "/?order_id=MULTI1", "", "")
	var got handler.OrderView
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.OutTradeNo != handler.OutTradeNo("MULTI1", 1) || got.Status != "PAID" {
		t.Errorf("got %s %s, want the PAID first attempt", got.OutTradeNo, got.Status)
	}
}

func mustStatus(t testing.TB, e *env) *handler.Status {
	t.Helper()
	st, err := handler.NewStatus(handler.StatusConfig{Store: e.Mem, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return st
}
