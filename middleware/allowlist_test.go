package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cypaykit/kit/middleware"
)

func TestAllowCIDRsConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  middleware.AllowConfig
	}{
		{"no networks", middleware.AllowConfig{}},
		{"bad CIDR", middleware.AllowConfig{CIDRs: []string{"203.0.113.0/33"}}},
		{"not an address", middleware.AllowConfig{CIDRs: []string{"gateway.example"}}},
		{"one good one bad", middleware.AllowConfig{CIDRs: []string{"203.0.113.0/24", "10.0.0.0/x"}}},
		{"bad trusted proxy", middleware.AllowConfig{CIDRs: []string{"203.0.113.0/24"}, TrustedProxy: "proxy"}},
		{"status not an error", middleware.AllowConfig{CIDRs: []string{"203.0.113.0/24"}, Status: 200}},
		{"zoned address", middleware.AllowConfig{CIDRs: []string{"fe80::1%eth0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mw, err := middleware.AllowCIDRs(tt.cfg)
			if err == nil || mw != nil {
				t.Fatalf("got (%v, %v), want (nil, error)", mw != nil, err)
			}
		})
	}
}

func TestAllowCIDRs(t *testing.T) {
	t.Parallel()
	const proxy = "10.0.0.7"
	tests := []struct {
		name    string
		cfg     middleware.AllowConfig
		remote  string
		xff     []string
		allowed bool
	}{
		{name: "inside a network", remote: "203.0.113.9:4000", allowed: true},
		{name: "single host entry", remote: "198.51.100.20:4000", allowed: true},
		{name: "outside", remote: "192.0.2.1:4000"},
		{name: "IPv6 inside", remote: "[2001:db8::5]:443", allowed: true},
		{name: "IPv4-mapped IPv6 inside", remote: "[::ffff:203.0.113.9]:4000", allowed: true},
		{name: "unparsable remote", remote: "somewhere"},
		{name: "forwarded header ignored without a trusted proxy", remote: "192.0.2.1:4000", xff: []string{"203.0.113.9"}},
		{name: "proxy itself is not the gateway", cfg: withProxy(proxy), remote: proxy + ":5000"},
		{name: "through the proxy from inside", cfg: withProxy(proxy), remote: proxy + ":5000", xff: []string{"203.0.113.9"}, allowed: true},
		{name: "through the proxy from outside", cfg: withProxy(proxy), remote: proxy + ":5000", xff: []string{"192.0.2.1"}},
		{name: "forged first hop is ignored", cfg: withProxy(proxy), remote: proxy + ":5000", xff: []string{"203.0.113.9, 192.0.2.1"}},
		{name: "last hop of the last header", cfg: withProxy(proxy), remote: proxy + ":5000", xff: []string{"192.0.2.1", "192.0.2.2, 203.0.113.9"}, allowed: true},
		{name: "garbage last hop", cfg: withProxy(proxy), remote: proxy + ":5000", xff: []string{"203.0.113.9, unknown"}},
		{name: "header from outside the proxy is not trusted", cfg: withProxy(proxy), remote: "192.0.2.1:4000", xff: []string{"203.0.113.9"}},
		{name: "direct from inside with a proxy configured", cfg: withProxy(proxy), remote: "203.0.113.9:4000", allowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.CIDRs = []string{"203.0.113.0/24", "198.51.100.20", "2001:db8::/32"}
			logger, _ := logBuffer()
			cfg.Logger = logger
			mw, err := middleware.AllowCIDRs(cfg)
			if err != nil {
				t.Fatal(err)
			}
			reached := false
			h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			r := httptest.NewRequest(http.MethodPost, "/pay/notify", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if reached != tt.allowed {
				t.Errorf("next ran: got %v, want %v", reached, tt.allowed)
			}
			if !tt.allowed && w.Code != http.StatusForbidden {
				t.Errorf("got status %d, want 403", w.Code)
			}
		})
	}
}

func withProxy(p string) middleware.AllowConfig { return middleware.AllowConfig{TrustedProxy: p} }

func TestAllowCIDRsReplyFail(t *testing.T) {
	t.Parallel()
	logger, logs := logBuffer()
	mw, err := middleware.AllowCIDRs(middleware.AllowConfig{
		CIDRs:     []string{"203.0.113.0/24"},
		Status:    http.StatusUnauthorized,
		ReplyFail: true,
		Logger:    logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("next ran") }))
	r := httptest.NewRequest(http.MethodPost, "/pay/notify?sign=secret", nil)
	r.RemoteAddr = "192.0.2.1:1"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || w.Body.String() != "fail" {
		t.Errorf("got %d %q, want 401 %q", w.Code, w.Body.String(), "fail")
	}
	if !strings.Contains(logs.String(), "192.0.2.1") || strings.Contains(logs.String(), "secret") {
		t.Errorf("log %q: want the client address and no query string", logs.String())
	}
}
