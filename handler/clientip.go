package handler

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// buyerIP is the IP the pre-order sends as mch_create_ip for r, by
// PreOrderConfig.ClientIP when set, else by the TrustedProxies policy
// (see PreOrderConfig). ok is false only when ClientIP returned something
// that is not an IP address.
func (p *PreOrder) buyerIP(r *http.Request) (ip string, ok bool) {
	if p.clientIP != nil {
		s := p.clientIP(r)
		if s == "" {
			return "", true
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return "", false
		}
		return a.Unmap().String(), true
	}
	peer, ok := remoteAddr(r)
	if !ok {
		return "", true // no peer address (a test's recorder): send none
	}
	if !p.trusted(peer) {
		return peer.String(), true
	}
	// From the right: each hop appended the address it got the request
	// from, so the first address no trusted proxy vouches for is the
	// buyer's, as far as anyone trustworthy knows.
	hops := forwardedFor(r)
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			// A hop that is no address: nothing left of it can be
			// trusted, and the proxy that passed it on is the buyer's
			// nearest known address.
			return peer.String(), true
		}
		a = a.Unmap()
		if !p.trusted(a) {
			return a.String(), true
		}
		peer = a
	}
	// Every hop is a trusted proxy: the left-most is the nearest known.
	return peer.String(), true
}

// trusted reports whether a is one of the configured proxies.
func (p *PreOrder) trusted(a netip.Addr) bool {
	for _, pfx := range p.proxies {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// remoteAddr is r's peer address, unmapped.
func remoteAddr(r *http.Request) (netip.Addr, bool) {
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
