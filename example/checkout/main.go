// Command checkout is the cypaykit demo shop: a catalogue, a checkout page
// that shows a WeChat / Alipay / e-CNY QR code, and the kit's pre-order,
// notification and status handlers over a SQLite file, against an
// in-process gateway simulator by default or the real gateway by flags.
//
//	go run ./example/checkout            # from the repository root
//	go run ./example/checkout -h         # flags and their environment variables
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store/sqlstore/sqlopen"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "checkout:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "checkout:", err)
		os.Exit(1)
	}
}

// run listens on cfg.Addr and serves until ctx ends.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, ln, stdout, stderr)
}

// serve runs the shop on ln until ctx ends, then shuts down gracefully.
// newServer returns the shop's HTTP server. Every phase of a connection is
// bounded, so that slow or idle clients cannot pile up descriptors: the
// notify handler cuts off a slow body itself within its 2 s deadline, and
// ReadTimeout does it for every other route.
func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func serve(ctx context.Context, cfg config, ln net.Listener, stdout, stderr io.Writer) error {
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	a, err := newApp(ctx, cfg, base, log)
	if err != nil {
		return err
	}
	defer a.close()

	srv := newServer(a.handler(), log)
	served := make(chan error, 2)
	var ops *http.Server
	opsBase := ""
	if cfg.MetricsAddr != "" {
		oln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return err
		}
		opsBase = "http://" + oln.Addr().String()
		ops = newServer(a.opsHandler(), log)
		go func() { served <- ops.Serve(oln) }()
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reconciled := make(chan error, 1)
	go func() { reconciled <- a.runReconciler(rctx) }()
	refunding := make(chan struct{})
	go func() { a.runRefunds(rctx); close(refunding) }()
	go func() { served <- srv.Serve(ln) }()
	printBanner(stdout, cfg, base, opsBase, a)

	select {
	case err = <-served:
	case err = <-reconciled:
		if err == nil {
			err = errors.New("reconciler stopped")
		}
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if serr := srv.Shutdown(sctx); err == nil || errors.Is(err, http.ErrServerClosed) {
		err = serr
	}
	if ops != nil {
		if serr := ops.Shutdown(sctx); err == nil || errors.Is(err, http.ErrServerClosed) {
			err = serr
		}
	}
	cancel()
	if rerr := <-reconciled; err == nil && rerr != nil {
		err = rerr
	}
	<-refunding
	return err
}

// printBanner tells a newcomer where to click. Keys are printed only when
// they are the simulator's public demo keys, never a real one. The banner
// goes out in one write, so it never interleaves with log lines and whoever
// sees its first line sees all of it.
func printBanner(w io.Writer, cfg config, base, opsBase string, a *app) {
	var b bytes.Buffer
	writeBanner(&b, cfg, base, opsBase, a)
	w.Write(b.Bytes())
}

func writeBanner(w *bytes.Buffer, cfg config, base, opsBase string, a *app) {
	fmt.Fprintf(w, "cypaykit demo shop: %s/\n", base)
	fmt.Fprintf(w, "  API:      GET %s/api/products · POST /api/orders (returns status_token) · POST /pay/preorder?token= · GET /pay/orders/{out_trade_no}?token= · GET /pay/orders?order_id=&token=\n", base)
	fmt.Fprintf(w, "  notify:   %s\n", a.notifyURL)
	if target, _, _ := parseDB(cfg.DB); target.Path != "" {
		// Which file, and how to start afresh: the default is per user
		// and checkout, so a newcomer could not guess it.
		fmt.Fprintf(w, "  database: %s (stop the shop and delete the file to start afresh)\n", target.Path)
	} else {
		fmt.Fprintf(w, "  database: %s\n", sqlopen.Redact(cfg.DB))
	}
	fmt.Fprintf(w, "  probes:   GET %s/healthz · GET %s/readyz\n", base, base)
	if cfg.Metrics {
		fmt.Fprintf(w, "  metrics:  GET %s/metrics (Prometheus)\n", base)
	}
	if opsBase != "" {
		fmt.Fprintf(w, "  ops:      GET %s/metrics · /healthz · /readyz (with error detail)\n", opsBase)
	}
	fmt.Fprintf(w, "  admin:    %s/admin (back office) · POST /admin/refunds/preview then /admin/refunds · GET /admin/orders · /admin/inbox · /admin/health · /admin/alerts (Bearer admin token)\n", base)
	if a.adminTokenDrawn {
		fmt.Fprintf(w, "  admin token (drawn for this run; set -admin-token or CYPAY_ADMIN_TOKEN to fix it): %s\n", a.adminToken)
	}
	if a.sim == nil {
		fmt.Fprintf(w, "  gateway:  %s (%s, mch_id %s)\n", cfg.Gateway, cfg.Version, cfg.MchID)
		return
	}
	fmt.Fprintf(w, "  gateway:  simulator at %s (%s); pay with POST %s/sim/pay/{out_trade_no}\n", a.sim.URL, cfg.Version, base)
	fmt.Fprintf(w, "  merchant: mch_id %s, key %s\n", cfg.MchID, demoOnly(cfg.MchKey, demoMchKey))
	if cfg.Version == model.V1 {
		fmt.Fprintf(w, "  agent:    agent_id %s, key %s\n", cfg.AgentID, demoOnly(cfg.AgentKey, demoAgentKey))
	}
}

func demoOnly(key, demo string) string {
	if key == demo {
		return key + " (demo)"
	}
	return "(set, not shown)"
}
