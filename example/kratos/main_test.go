package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	khttp "github.com/go-kratos/kratos/v2/transport/http"

	"github.com/cypaykit/kit/adapter/adaptertest"
	"github.com/cypaykit/kit/example/internal/wiring"
	"github.com/cypaykit/kit/example/internal/wiring/wiringtest"
)

// TestKratosServer pays an order through Kratos' own HTTP server over real
// HTTP: pre-order, the simulator's notification through Kratos' filters
// to the kit, and the status under /pay/orders/{out_trade_no}; then
// tricky notification bodies through the same server.
func TestKratosServer(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	kit, err := wiring.New(base+"/pay/notify", logger)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(kit.Sim.Close)
	srv := newServer(kit, logger, khttp.Listener(ln))
	// A verifying capture behind the same server, for the bodies.
	var capture adaptertest.Capture
	srv.Handle("/capture", adaptertest.VerifyMiddleware(t)(&capture))
	done := make(chan error, 1)
	go func() { done <- srv.Start(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Start: %v", err)
		}
	})

	wiringtest.CheckFlow(t, base, kit)

	adaptertest.CheckBodies(t, base+"/capture", &capture)
	n := len(capture.Bodies())
	if status, reply := adaptertest.PostForm(t, base+"/capture", adaptertest.Notification(t, true)); status != http.StatusUnauthorized || reply != "fail" {
		t.Errorf("tampered notification: got %d %q, want 401 fail", status, reply)
	}
	if len(capture.Bodies()) != n {
		t.Error("a tampered notification reached the kit handler")
	}
}
