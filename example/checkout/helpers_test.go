package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects the shop's output from several goroutines.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

// Writes is how many Write calls the buffer has seen.
func (s *syncBuffer) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testConfig is the default configuration with a random loopback port and
// a SQLite file in t's temporary directory, then args applied.
func testConfig(t testing.TB, args ...string) config {
	t.Helper()
	base := []string{"-addr", "127.0.0.1:0", "-db", "sqlite:" + filepath.Join(t.TempDir(), "shop.db")}
	cfg, err := parseConfig(append(base, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	return cfg
}

// testShop is a shop served over real HTTP on loopback.
type testShop struct {
	URL    string
	Stdout *syncBuffer
	Logs   *syncBuffer
}

// startShop serves cfg on a random loopback port until t ends, and fails t
// if the shop does not stop cleanly.
func startShop(t testing.TB, cfg config) *testShop {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testShop{URL: "http://" + ln.Addr().String(), Stdout: &syncBuffer{}, Logs: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, ln, s.Stdout, s.Logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v, want nil after shutdown", err)
		}
		if t.Failed() {
			t.Logf("shop logs:\n%s", s.Logs.String())
		}
	})
	// The banner is printed once every handler is mounted.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.Stdout.String(), "demo shop"); {
		select {
		case err := <-done:
			t.Fatalf("serve stopped early: %v\n%s", err, s.Logs.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shop did not start within 10 s\n%s", s.Logs.String())
		}
	}
	return s
}

// do sends a request with an optional JSON body and decodes a JSON reply
// into out (when non-nil); it returns the status code.
func (s *testShop) do(t testing.TB, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			j, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, res.StatusCode, raw, err)
		}
	}
	return res.StatusCode
}

// orderStatus is GET /pay/orders/{out_trade_no}.
type orderStatus struct {
	OutTradeNo    string `json:"out_trade_no"`
	OrderID       string `json:"order_id"`
	Amount        int64  `json:"amount"`
	Status        string `json:"status"`
	Fulfilled     bool   `json:"fulfilled"`
	TransactionID string `json:"transaction_id"`
}

// waitSettled polls the status endpoint (with the buyer's token) until the attempt is paid and
// fulfilled, or fails t after 15 s. The simulator delivers its
// notification asynchronously, as the gateway does.
func (s *testShop) waitSettled(t testing.TB, outTradeNo, token string) orderStatus {
	t.Helper()
	var st orderStatus
	for deadline := time.Now().Add(15 * time.Second); ; {
		if code := s.do(t, "GET", "/pay/orders/"+outTradeNo+"?token="+url.QueryEscape(token), nil, &st); code != http.StatusOK {
			t.Fatalf("GET /pay/orders/%s: got status %d, want 200", outTradeNo, code)
		}
		if st.Status == "PAID" && st.Fulfilled {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s: got %+v after 15 s, want PAID and fulfilled", outTradeNo, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sleepBriefly() { time.Sleep(10 * time.Millisecond) }
