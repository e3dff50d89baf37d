// Package clientip finds the address a request came from when it may have
// passed proxies: the peer, unless the peer is a trusted proxy; then the
// right-most X-Forwarded-For hop no trusted proxy vouches for.
package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// From returns the client's address for r: r's peer (RemoteAddr) unless
// the peer is in trusted, then the right-most X-Forwarded-For address
// that is not, since every address left of the first untrusted hop could
// have been written by the client. A hop that is no address stops the
// walk at the proxy that passed it on; when every hop is trusted, the
// left-most is the nearest known. Addresses come unmapped (IPv4 in IPv4
// form). ok is false when r has no peer address (a test's recorder).
func From(r *http.Request, trusted []netip.Prefix) (a netip.Addr, ok bool) {
	peer, ok := remote(r)
	if !ok {
		return netip.Addr{}, false
	}
	if !contains(trusted, peer) {
		return peer, true
	}
	// From the right: each hop appended the address it got the request
	// from, so the first address no trusted proxy vouches for is the
	// client's, as far as anyone trustworthy knows.
	hops := forwardedFor(r)
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			// A hop that is no address: nothing left of it can be
			// trusted, and the proxy that passed it on is the client's
			// nearest known address.
			return peer, true
		}
		a = a.Unmap()
		if !contains(trusted, a) {
			return a, true
		}
		peer = a
	}
	return peer, true
}

// contains reports whether a is in one of the prefixes.
func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remote is r's peer address, unmapped; a zoned one is none.
func remote(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// forwardedFor lists the X-Forwarded-For addresses of every such header,
// left to right, as proxies append them.
func forwardedFor(r *http.Request) []string {
	var out []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for _, part := range strings.Split(h, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}
