package sqlstore_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
)

// TestSettleAcrossHandles plays several processes, each with its own
// *sql.DB on one database, settling the same attempts at once: for each
// attempt exactly one call reports settled=true and the rest (false, nil).
func TestSettleAcrossHandles(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		if !tg.shared {
			t.Skip("an in-memory database has one handle")
		}
		_, prefix := newStorePrefix(t, tg, db)
		const handles, perHandle, orders = 3, 4, 5
		stores := make([]*sqlstore.Store, handles)
		for i := range stores {
			s, err := sqlstore.New(tg.open(t, dsn), sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			stores[i] = s
		}
		for n := 1; n <= orders; n++ {
			create(t, stores[0], order("PROC", n))
		}
		var (
			mu      sync.Mutex
			settled = map[string]int{}
			wg      sync.WaitGroup
		)
		for _, s := range stores {
			for g := 0; g < perHandle; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 1; n <= orders; n++ {
						no := order("PROC", n).OutTradeNo
						ok, err := s.Settle(context.Background(), no, store.Payment{TransactionID: "TX" + no}, t0)
						if err != nil {
							t.Errorf("Settle(%s): got %v, want nil", no, err)
							return
						}
						if ok {
							mu.Lock()
							settled[no]++
							mu.Unlock()
						}
					}
				}()
			}
		}
		wg.Wait()
		want := map[string]int{}
		for n := 1; n <= orders; n++ {
			want[order("PROC", n).OutTradeNo] = 1
		}
		if diff := cmp.Diff(want, settled); diff != "" {
			t.Errorf("settled=true count per attempt (-want +got):\n%s", diff)
		}
	})
}
