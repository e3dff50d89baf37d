package sqlstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
)

// notifyWithInbox is notifyOn with the Store as the Settler's Inbox and
// Events: one more INSERT per verified notification.
func notifyWithInbox(t testing.TB, s *sqlstore.Store) (http.Handler, *handler.Settler) {
	t.Helper()
	st, err := handler.NewSettler(handler.SettlerConfig{Store: s, Logger: quietLogger, Inbox: s, Events: s,
		Fulfill: func(context.Context, store.Order) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	h, err := handler.NewNotify(handler.NotifyConfig{Settler: st, Logger: quietLogger,
		Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{benchMchID: benchKey})}})
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}

// BenchmarkInboxCost serves fresh paid notifications to the notification
// handler on the SQL store twice over, without an inbox (the baseline)
// and with the Store as its Inbox and Events (a round of it ends when its
// inbox rows are written, not only answered), over loopback HTTP from 16
// keep-alive clients, in 10 interleaved rounds that alternate which goes
// first, and reports both rates and inbox/none (issue 20's target: at
// least 0.9).
//
//	go test -run '^$' -bench BenchmarkInboxCost -benchtime 4000x -count 3 .
func BenchmarkInboxCost(b *testing.B) {
	for _, tg := range targets {
		if !tg.server {
			continue
		}
		b.Run(tg.name, func(b *testing.B) {
			s, _, _, withBodies, noneBodies := freshSetup(b, tg)
			tr := &http.Transport{MaxIdleConnsPerHost: freshClients, MaxConnsPerHost: freshClients}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr}
			withHandler, settler := notifyWithInbox(b, s)
			withSrv := httptest.NewServer(withHandler)
			// A round with the inbox ends when its rows are written too:
			// they are written after the replies, and must not spill into
			// the baseline's round.
			postWith := func(bodies []string) time.Duration {
				start := time.Now()
				postAll(b, hc, withSrv.URL, bodies)
				if err := settler.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			defer withSrv.Close()
			noneSrv := httptest.NewServer(notifyOn(b, s))
			defer noneSrv.Close()

			postNone := func(bodies []string) time.Duration { return postAll(b, hc, noneSrv.URL, bodies) }
			noneRate, withRate := alternate(b, postNone, noneBodies, postWith, withBodies)
			b.ReportMetric(noneRate, "none-req/s")
			b.ReportMetric(withRate, "inbox-req/s")
			b.ReportMetric(withRate/noneRate, "inbox/none")
		})
	}
}
