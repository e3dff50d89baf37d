package middleware_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/middleware"
)

// TestVerifyNotificationCutsOffSlowBody: a body still arriving after
// BodyTimeout is refused with 408 "fail" on a real server, the connection
// is closed, and next never runs.
func TestVerifyNotificationCutsOffSlowBody(t *testing.T) {
	t.Parallel()
	var reached atomic.Int32
	mw := newVerify(t, middleware.VerifyConfig{Keys: staticKeys(testKey), BodyTimeout: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Add(1) })))
	t.Cleanup(srv.Close)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_, err = fmt.Fprint(c, "POST /pay/notify HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\nstate=SUCC")
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no reply within 30s: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || string(body) != "fail" {
		t.Errorf("got %d %q, want 408 fail", resp.StatusCode, body)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Error("the connection is still open after the reply")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("the connection was not closed within 30s")
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("next ran %d times, want 0", n)
	}
}
