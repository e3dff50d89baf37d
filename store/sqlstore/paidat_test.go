package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// TestStatusPaidAtOneRepresentation: the status route shows paid_at the
// same way whatever the store: RFC 3339 in the gateway's zone (+08:00),
// to the second, as the gateway's time_end. SQLite hands times back in
// UTC and memstore as they were given; the JSON must not tell them apart.
func TestStatusPaidAtOneRepresentation(t *testing.T) {
	const want = "2026-12-01T13:04:05+08:00"
	paid := time.Date(2026, 12, 1, 13, 4, 5, 0, model.Beijing)
	check := func(t *testing.T, s store.OrderStore, paidAt time.Time) {
		t.Helper()
		o := order("PAIDAT", 1)
		create(t, s, o)
		if _, err := s.Settle(context.Background(), o.OutTradeNo, store.Payment{TransactionID: "T1", PaidAt: paidAt}, paidAt); err != nil {
			t.Fatal(err)
		}
		st, err := handler.NewStatus(handler.StatusConfig{Store: s})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		st.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/pay/orders?out_trade_no="+o.OutTradeNo, nil))
		var v struct {
			PaidAt string `json:"paid_at"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%v in %s", err, rec.Body)
		}
		if v.PaidAt != want {
			t.Errorf("paid_at: got %q, want %q", v.PaidAt, want)
		}
	}
	t.Run("memstore", func(t *testing.T) { check(t, memstore.New(), paid) })
	t.Run("memstore given UTC with nanoseconds", func(t *testing.T) {
		check(t, memstore.New(), paid.UTC().Add(123456789*time.Nanosecond))
	})
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		check(t, newStore(t, tg, db), paid)
	})
}
