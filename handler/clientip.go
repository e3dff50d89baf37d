package handler

import (
	"net/http"
	"net/netip"

	"github.com/cypaykit/kit/internal/clientip"
)

// buyerIP is the IP the pre-order sends as mch_create_ip for r, by
// PreOrderConfig.ClientIP when set, else by the TrustedProxies policy
// (see PreOrderConfig). ok is false only when ClientIP returned something
// that is not an IP address.
func (p *PreOrder) buyerIP(r *http.Request) (ip string, ok bool) {
	if p.clientIP == nil {
		a, ok := clientip.From(r, p.proxies)
		if !ok {
			return "", true // no peer address (a test's recorder): send none
		}
		return a.String(), true
	}
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
