package handler_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// FuzzNotify feeds arbitrary bodies to the notification handler: it never
// panics, answers exactly success or fail, and an order changes only for a
// body that verifies under the order's key with its exact amount (G1, G8).
func FuzzNotify(f *testing.F) {
	valid, err := gatewaytest.NotificationValues(gatewaytest.Payment{MchID: mchA, OutTradeNo: "FUZZ0001", TotalFee: 1000, TransactionID: "TFUZZ"}, keyA, "")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid.Encode())
	f.Add(valid.Encode() + "&total_fee=1")
	f.Add(strings.Replace(valid.Encode(), "total_fee=1000", "total_fee=1", 1))
	f.Add("out_trade_no=FUZZ0001&sign=00")
	f.Add("%zz=1")
	f.Add("a=1;b=2")
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		m := memstore.New()
		now := time.Now()
		if err := m.Create(context.Background(), &store.Order{OutTradeNo: "FUZZ0001", BusinessID: "FUZZ", Attempt: 1, MchID: mchA,
			Channel: model.PayWeChat, Version: model.V2, Amount: 1000, Status: store.Pending, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		s, err := handler.NewSettler(handler.SettlerConfig{Store: m, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		h, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Logger: quietLogger(),
			Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(merchants)}})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader(body))
		r.Header.Set("Content-Type", formType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		reply := w.Body.String()
		if reply != "success" && reply != "fail" {
			t.Fatalf("reply: got %q, want success or fail", reply)
		}
		o, err := m.Get(context.Background(), "FUZZ0001")
		if err != nil {
			t.Fatal(err)
		}
		if o.Status == store.Pending {
			return
		}
		v, err := url.ParseQuery(body)
		if err != nil || sign.Verify(v, sign.MD5, keyA) != nil {
			t.Fatalf("order became %s on a body that does not verify: %q", o.Status, body)
		}
		if o.Status == store.Paid && (v.Get("total_fee") != "1000" || v.Get("mch_id") != mchA) {
			t.Fatalf("order PAID with total_fee %q mch_id %q", v.Get("total_fee"), v.Get("mch_id"))
		}
	})
}
