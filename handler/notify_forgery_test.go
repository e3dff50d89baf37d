package handler_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store"
)

// TestForgeries proves G1, G8 and G9: each forged or malformed
// notification is answered fail and leaves the order exactly as it was.
func TestForgeries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	type req struct {
		method, path, contentType, body string
	}
	// encode writes values in a fixed order, with no escaping beyond what
	// url.Values does, so tests can append raw bytes.
	form := func(v url.Values) req { return req{http.MethodPost, "/notify", formType, v.Encode()} }
	resign := func(t *testing.T, v url.Values, key string) {
		t.Helper()
		v.Del("sign")
		s, err := sign.Sign(v, key, sign.MD5)
		if err != nil {
			t.Fatal(err)
		}
		v.Set("sign", s)
	}
	tests := []struct {
		name  string
		build func(t *testing.T, o *store.Order, v url.Values) req
		// want is the expected status class, to show the right check fired.
		wantStatus int
	}{
		{"bad sign", func(t *testing.T, o *store.Order, v url.Values) req {
			v.Set("sign", strings.Repeat("0", 32))
			return form(v)
		}, http.StatusUnauthorized},
		{"missing sign", func(t *testing.T, o *store.Order, v url.Values) req {
			v.Del("sign")
			return form(v)
		}, http.StatusUnauthorized},
		{"wrong key", func(t *testing.T, o *store.Order, v url.Values) req {
			resign(t, v, "not-the-merchant-key-0000000000")
			return form(v)
		}, http.StatusUnauthorized},
		{"other merchant's key", func(t *testing.T, o *store.Order, v url.Values) req {
			resign(t, v, keyB)
			return form(v)
		}, http.StatusUnauthorized},
		{"amount tampered after signing", func(t *testing.T, o *store.Order, v url.Values) req {
			v.Set("total_fee", "1")
			return form(v)
		}, http.StatusUnauthorized},
		{"mch_id tampered after signing", func(t *testing.T, o *store.Order, v url.Values) req {
			v.Set("mch_id", mchB)
			return form(v)
		}, http.StatusUnauthorized},
		{"extra field added after signing", func(t *testing.T, o *store.Order, v url.Values) req {
			v.Set("gmt_create", "20240101120000")
			return form(v)
		}, http.StatusUnauthorized},
		{"duplicate field names", func(t *testing.T, o *store.Order, v url.Values) req {
			r := form(v)
			r.body += "&total_fee=1"
			return r
		}, http.StatusBadRequest},
		{"duplicate sign", func(t *testing.T, o *store.Order, v url.Values) req {
			r := form(v)
			r.body += "&sign=" + strings.Repeat("A", 32)
			return r
		}, http.StatusBadRequest},
		{"signature only in the query string", func(t *testing.T, o *store.Order, v url.Values) req {
			s := v.Get("sign")
			v.Del("sign")
			r := form(v)
			r.path += "?sign=" + s
			return r
		}, http.StatusUnauthorized},
		{"every field only in the query string", func(t *testing.T, o *store.Order, v url.Values) req {
			return req{http.MethodPost, "/notify?" + v.Encode(), formType, ""}
		}, http.StatusBadRequest},
		{"GET", func(t *testing.T, o *store.Order, v url.Values) req {
			return req{http.MethodGet, "/notify?" + v.Encode(), "", ""}
		}, http.StatusMethodNotAllowed},
		{"wrong content type", func(t *testing.T, o *store.Order, v url.Values) req {
			r := form(v)
			r.contentType = "text/plain"
			return r
		}, http.StatusUnsupportedMediaType},
		{"JSON content type", func(t *testing.T, o *store.Order, v url.Values) req {
			r := form(v)
			r.contentType = "application/json"
			return r
		}, http.StatusUnsupportedMediaType},
		{"body over the limit", func(t *testing.T, o *store.Order, v url.Values) req {
			v.Set("device_info", strings.Repeat("x", 70<<10))
			resign(t, v, keyFor(o))
			return form(v)
		}, http.StatusRequestEntityTooLarge},
		{"invalid UTF-8 raw", func(t *testing.T, o *store.Order, v url.Values) req {
			r := form(v)
			r.body += "&device_info=\xff\xfe"
			return r
		}, http.StatusBadRequest},
		{"invalid UTF-8 percent-encoded, validly signed", func(t *testing.T, o *store.Order, v url.Values) req {
			v.Set("device_info", "\xff\xfe")
			resign(t, v, keyFor(o))
			return form(v)
		}, http.StatusBadRequest},
		{"unknown out_trade_no", func(t *testing.T, o *store.Order, v url.Values) req {
			v.Set("out_trade_no", "NOSUCHORDER01")
			resign(t, v, keyFor(o))
			return form(v)
		}, http.StatusUnauthorized},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := e.CreatePending(t, fmt.Sprintf("FORGE%02d", i), mchA, model.V2, 8800)
			before := e.Get(t, o.OutTradeNo)
			r := tc.build(t, o, signedNotification(t, o, keyFor(o), nil))
			hr, err := http.NewRequest(r.method, e.Server.URL+r.path, strings.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			if r.contentType != "" {
				hr.Header.Set("Content-Type", r.contentType)
			}
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			_, _ = fmt.Fprint(&b, readAll(t, resp))
			if got := b.String(); got != "fail" {
				t.Errorf("reply: got %q, want fail", got)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("content type: got %q, want text/plain; charset=utf-8", ct)
			}
			if diff := cmp.Diff(before, e.Get(t, o.OutTradeNo)); diff != "" {
				t.Errorf("order changed (-before +after):\n%s", diff)
			}
			if _, err := e.Mem.Get(context.Background(), "NOSUCHORDER01"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("unknown order: got %v, want ErrNotFound", err)
			}
			if n := e.Hooks.Calls(o.OutTradeNo); n != 0 {
				t.Errorf("hook calls: got %d, want 0", n)
			}
		})
	}
	if n := len(e.Rec.Alerts()); n != 0 {
		t.Errorf("alerts: got %d, want none (no forgery carried a valid signature over a mismatch)", n)
	}
	if n := e.Rec.Count(handler.Settled); n != 0 {
		t.Errorf("settled events: got %d, want 0", n)
	}
}

// TestMismatchUnderValidSign proves G1: a notification signed with the
// right key whose amount or merchant disagrees with the order (a leaked key
// or a bug) is answered fail, changes nothing and fires an alert.
func TestMismatchUnderValidSign(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version model.Version
		mutate  func(p *gatewaytest.Payment)
		want    handler.Alert
	}{
		{"amount", model.V2, func(p *gatewaytest.Payment) { p.TotalFee = 1 },
			handler.Alert{Kind: handler.AlertAmountMismatch, MchID: mchA, GotMchID: mchA, WantAmount: 8800, GotAmount: 1}},
		{"amount plus one fen", model.V1, func(p *gatewaytest.Payment) { p.TotalFee = 8801 },
			handler.Alert{Kind: handler.AlertAmountMismatch, MchID: mchA, GotMchID: mchA, WantAmount: 8800, GotAmount: 8801}},
		// Under v1 the agent key signs every merchant's traffic, so another
		// merchant's notification verifies.
		{"merchant", model.V1, func(p *gatewaytest.Payment) { p.MchID = mchB },
			handler.Alert{Kind: handler.AlertMchMismatch, MchID: mchA, GotMchID: mchB, WantAmount: 8800, GotAmount: 8800}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			o := e.CreatePending(t, fmt.Sprintf("MISMATCH%02d", i), mchA, tc.version, 8800)
			v := signedNotification(t, o, keyFor(o), tc.mutate)
			if err := sign.Verify(v, sign.MD5, keyFor(o)); err != nil {
				t.Fatalf("test notification does not verify: %v", err)
			}
			if got := e.PostNotify(t, v); got != "fail" {
				t.Errorf("reply: got %q, want fail", got)
			}
			if diff := cmp.Diff(o, e.Get(t, o.OutTradeNo)); diff != "" {
				t.Errorf("order changed (-before +after):\n%s", diff)
			}
			alerts := e.Rec.Alerts()
			if len(alerts) != 1 {
				t.Fatalf("alerts: got %d, want 1", len(alerts))
			}
			want := tc.want
			want.Source, want.OutTradeNo, want.Status = handler.SourceNotify, o.OutTradeNo, string(store.Pending)
			want.TransactionID = v.Get("transaction_id")
			if diff := cmp.Diff(want, alerts[0]); diff != "" {
				t.Errorf("alert (-want +got):\n%s", diff)
			}
			if s := alerts[0].String(); strings.Contains(s, keyFor(o)) {
				t.Errorf("alert text carries the key: %s", s)
			}
			if n := e.Rec.Count(handler.Mismatch); n != 1 {
				t.Errorf("mismatch events: got %d, want 1", n)
			}
		})
	}
}

// TestPaidAfterClose: a valid payment for an attempt already CLOSED is not
// settled, is answered fail (so it is seen again), and raises an alert.
func TestPaidAfterClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	o := e.CreatePending(t, "CLOSEDPAY1", mchA, model.V2, 300)
	if err := e.Mem.Finish(context.Background(), o.OutTradeNo, store.Closed, "test", e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	before := e.Get(t, o.OutTradeNo)
	if got := e.PostNotify(t, signedNotification(t, o, keyA, nil)); got != "fail" {
		t.Errorf("reply: got %q, want fail", got)
	}
	if diff := cmp.Diff(before, e.Get(t, o.OutTradeNo)); diff != "" {
		t.Errorf("order changed (-before +after):\n%s", diff)
	}
	if a := e.Rec.Alerts(); len(a) != 1 || a[0].Kind != handler.AlertPaidAfterClose {
		t.Errorf("alerts: got %+v, want one %s", a, handler.AlertPaidAfterClose)
	}
}

// TestSecondTransaction: a PAID order reported paid again under another
// transaction id is not touched and raises an alert.
func TestSecondTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	o := e.CreatePending(t, "TWOTXN01", mchA, model.V2, 300)
	first := signedNotification(t, o, keyA, func(p *gatewaytest.Payment) { p.TransactionID = "TX1" })
	if got := e.PostNotify(t, first); got != "success" {
		t.Fatalf("first: got %q, want success", got)
	}
	paid := e.Get(t, o.OutTradeNo)
	second := signedNotification(t, o, keyA, func(p *gatewaytest.Payment) { p.TransactionID = "TX2" })
	if got := e.PostNotify(t, second); got != "fail" {
		t.Errorf("second: got %q, want fail", got)
	}
	if diff := cmp.Diff(paid, e.Get(t, o.OutTradeNo)); diff != "" {
		t.Errorf("order changed (-before +after):\n%s", diff)
	}
	if a := e.Rec.Alerts(); len(a) != 1 || a[0].Kind != handler.AlertTransactionConflict {
		t.Errorf("alerts: got %+v, want one %s", a, handler.AlertTransactionConflict)
	}
	if n := e.Hooks.Calls(o.OutTradeNo); n != 1 {
		t.Errorf("hook calls: got %d, want 1", n)
	}
}
