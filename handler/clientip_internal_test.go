package handler

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestBuyerIP: mch_create_ip follows the proxy policy (internal/clientip,
// whose tests hold its cases) for TrustedProxies; ClientIP replaces the
// policy, and what it returns must be an IP address.
func TestBuyerIP(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name     string
		proxies  []netip.Prefix
		clientIP func(*http.Request) string
		peer     string
		xff      []string
		want     string
		wantOK   bool
	}{
		{"no proxies: the peer, whatever the header says", nil, nil, "198.51.100.7:4000", []string{"203.0.113.9"}, "198.51.100.7", true},
		{"trusted peer: its hop", lb, nil, "10.1.2.3:4000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9", true},
		{"no peer address: none", lb, nil, "", nil, "", true},
		{"ClientIP wins", lb, func(*http.Request) string { return "192.0.2.1" }, "10.1.2.3:4000", []string{"203.0.113.9"}, "192.0.2.1", true},
		{"ClientIP sends none", nil, func(*http.Request) string { return "" }, "198.51.100.7:4000", nil, "", true},
		{"ClientIP garbage is the host's mistake", nil, func(*http.Request) string { return "localhost" }, "198.51.100.7:4000", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &PreOrder{proxies: tc.proxies, clientIP: tc.clientIP}
			r := httptest.NewRequest(http.MethodPost, "/pay", nil)
			r.RemoteAddr = tc.peer
			for _, h := range tc.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			got, ok := p.buyerIP(r)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("buyerIP: got (%q, %v), want (%q, %v)", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
