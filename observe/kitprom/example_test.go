package kitprom_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/observe/kitprom"
	"github.com/cypaykit/kit/store/memstore"
)

// Example wires kitprom into the kit's configurations and scrapes it.
func Example() {
	orders := memstore.New()
	mux := http.NewServeMux() // your server's
	// snippet:begin wire
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	// Pending is your store (a store.PendingCounter): the pending_attempts gauge.
	m, err := kitprom.New(kitprom.Config{Registerer: reg, Pending: orders})
	if err != nil {
		panic(err)
	}
	scfg := handler.SettlerConfig{Store: orders}
	m.InstrumentSettler(&scfg) // then handler.NewSettler(scfg)
	ccfg := client.Config{}
	m.InstrumentClient(&ccfg) // then client.New(ccfg)
	rcfg := handler.ReconcilerConfig{}
	m.InstrumentReconciler(&rcfg) // then handler.NewReconciler(rcfg)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// snippet:end wire

	// What the kit reports when a notification settles an order:
	scfg.Observe(handler.Event{Outcome: handler.Settled, Source: handler.SourceNotify, OutTradeNo: "ORDER1A01"})

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if strings.HasPrefix(line, `cypaykit_notifications_total{outcome="settled"`) ||
			strings.HasPrefix(line, "cypaykit_pending_attempts ") {
			fmt.Println(line)
		}
	}
	// Output:
	// cypaykit_notifications_total{outcome="settled",source="notify"} 1
	// cypaykit_pending_attempts 0
}
