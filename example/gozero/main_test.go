package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/proc"
	"github.com/zeromicro/go-zero/rest"

	"github.com/cypaykit/kit/adapter/adaptertest"
	"github.com/cypaykit/kit/example/internal/wiring"
	"github.com/cypaykit/kit/example/internal/wiring/wiringtest"
)

// TestGoZeroServer pays an order through go-zero's own rest server over
// real HTTP: pre-order, the simulator's notification through go-zero's
// default middleware chain (gunzip, max bytes, timeout, …) to the kit, and
// the status under /pay/orders/:out_trade_no; then tricky notification
// bodies through the same chain.
func TestGoZeroServer(t *testing.T) {
	logx.Disable()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// go-zero listens on a host and port it is given: take a free one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	kit, err := wiring.New("http://"+addr+"/pay/notify", logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kit.Sim.Close)
	srv, err := newServer(addr, kit, logger)
	if err != nil {
		t.Fatal(err)
	}
	// A verifying capture behind go-zero's same chain, for the bodies.
	var capture adaptertest.Capture
	srv.AddRoute(rest.Route{Method: http.MethodPost, Path: "/capture",
		Handler: adaptertest.VerifyMiddleware(t)(&capture).ServeHTTP})
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Start()
	}()
	t.Cleanup(func() {
		proc.Shutdown() // go-zero's test hook: shuts its HTTP servers down
		<-done
	})
	waitListening(t, addr, done)

	base := "http://" + addr
	wiringtest.CheckFlow(t, base, kit)

	// Bodies a form parser would re-encode reach the kit byte for byte,
	// and a bad sign is refused before the kit handler.
	adaptertest.CheckBodies(t, base+"/capture", &capture)
	n := len(capture.Bodies())
	if status, reply := adaptertest.PostForm(t, base+"/capture", adaptertest.Notification(t, true)); status != http.StatusUnauthorized || reply != "fail" {
		t.Errorf("tampered notification: got %d %q, want 401 fail", status, reply)
	}
	if len(capture.Bodies()) != n {
		t.Error("a tampered notification reached the kit handler")
	}
}

// waitListening waits, at most 30 s, for the server started in the
// background to accept connections.
func waitListening(t *testing.T, addr string, done <-chan struct{}) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-done:
			t.Fatal("the go-zero server stopped before listening")
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the go-zero server did not listen on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
