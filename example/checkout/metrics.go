package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/observe/kitprom"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
)

// shopMetrics is what -metrics adds: the kit's Prometheus metrics and the
// Go runtime's, on a registry of the shop's own, served at GET /metrics on
// the shop's address. A nil *shopMetrics (no -metrics) instruments nothing
// and serves nothing.
type shopMetrics struct {
	reg *prometheus.Registry
	kit *kitprom.Metrics
}

// newShopMetrics registers the collectors; the store's PENDING count is
// exported when the store can count (memstore and sqlstore can).
func newShopMetrics(st store.OrderStore) (*shopMetrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	pending, _ := st.(store.PendingCounter)
	kit, err := kitprom.New(kitprom.Config{Registerer: reg, Pending: pending})
	if err != nil {
		return nil, err
	}
	return &shopMetrics{reg: reg, kit: kit}, nil
}

func (m *shopMetrics) client(cfg *client.Config) {
	if m != nil {
		m.kit.InstrumentClient(cfg)
	}
}

func (m *shopMetrics) settler(cfg *handler.SettlerConfig) {
	if m != nil {
		m.kit.InstrumentSettler(cfg)
	}
}

func (m *shopMetrics) reconciler(cfg *handler.ReconcilerConfig) {
	if m != nil {
		m.kit.InstrumentReconciler(cfg)
	}
}

func (m *shopMetrics) refunder(cfg *refund.Config) {
	if m != nil {
		m.kit.InstrumentRefunder(cfg)
	}
}

// mount serves the Prometheus text format at GET /metrics.
func (m *shopMetrics) mount(mux *http.ServeMux) {
	if m != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	}
}
