package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestFrom: X-Forwarded-For is read only when the peer is a trusted
// proxy, and then from the right, up to the first address no trusted
// proxy vouches for.
func TestFrom(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		want    string // "" when ok is false
	}{
		{"no proxies: the peer, whatever the header says", nil, "198.51.100.7:4000", []string{"203.0.113.9"}, "198.51.100.7"},
		{"untrusted peer: the header is the client's own words", lb, "198.51.100.7:4000", []string{"203.0.113.9"}, "198.51.100.7"},
		{"trusted peer: its hop", lb, "10.1.2.3:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"spoofed left part is skipped", lb, "10.1.2.3:4000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"chain of trusted proxies", lb, "10.1.2.3:4000", []string{"203.0.113.9, 10.9.9.9", "10.8.8.8"}, "203.0.113.9"},
		{"garbage hop stops the walk", lb, "10.1.2.3:4000", []string{"203.0.113.9, junk"}, "10.1.2.3"},
		{"garbage behind a trusted hop: that hop", lb, "10.1.2.3:4000", []string{"junk, 10.7.7.7"}, "10.7.7.7"},
		{"all hops trusted: the left-most", lb, "10.1.2.3:4000", []string{"10.7.7.7"}, "10.7.7.7"},
		{"trusted peer, no header", lb, "10.1.2.3:4000", nil, "10.1.2.3"},
		{"mapped hop comes unmapped", lb, "10.1.2.3:4000", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"mapped hop of a trusted proxy is trusted", lb, "10.1.2.3:4000", []string{"203.0.113.9, ::ffff:10.7.7.7"}, "203.0.113.9"},
		{"trusted IPv6 proxy", lb, "[fd00::5]:4000", []string{"2001:db8::9"}, "2001:db8::9"},
		{"IPv6 peer", nil, "[2001:db8::1]:4000", nil, "2001:db8::1"},
		{"IPv4-mapped peer", nil, "[::ffff:198.51.100.7]:4000", nil, "198.51.100.7"},
		{"bare address peer", nil, "198.51.100.7", nil, "198.51.100.7"},
		{"zoned peer is none", nil, "[fe80::1%eth0]:4000", nil, ""},
		{"no peer", nil, "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/pay", nil)
			r.RemoteAddr = tc.peer
			for _, h := range tc.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			a, ok := From(r, tc.trusted)
			got := ""
			if ok {
				got = a.String()
			}
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("From: got (%s, %v), want %q", a, ok, tc.want)
			}
		})
	}
}
