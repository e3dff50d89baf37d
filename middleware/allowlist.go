package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
)

// ForwardedForHeader is the one proxy header AllowCIDRs can trust.
const ForwardedForHeader = "X-Forwarded-For"

// AllowConfig configures AllowCIDRs. Every field documents its zero value.
type AllowConfig struct {
	// CIDRs are the networks the gateway sends from, such as
	// "203.0.113.0/24"; a bare address means that one host. At least one
	// is required; every entry must parse.
	CIDRs []string
	// TrustedProxy is the network (CIDR or bare address) of the one
	// reverse proxy in front of this server. When the connection comes
	// from inside it, the client address is the last entry of the last
	// X-Forwarded-For header: the one the proxy itself appended, which the
	// sender cannot forge. Entries before it are ignored, and a request
	// from the proxy without that header is rejected. Zero (empty) trusts
	// no header and checks the connection's own address only.
	TrustedProxy string
	// Status is the rejection status. Zero means 403 Forbidden.
	Status int
	// ReplyFail answers a rejection with the gateway's literal "fail"
	// instead of "forbidden": use it on notification routes. Zero (false)
	// means "forbidden".
	ReplyFail bool
	// Logger receives one line per rejected request. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// AllowCIDRs returns middleware that lets through only requests from the
// configured networks: it guards the notification route against senders
// other than the gateway. It is defence in depth, not a substitute for
// verifying the signature.
func AllowCIDRs(cfg AllowConfig) (func(http.Handler) http.Handler, error) {
	if len(cfg.CIDRs) == 0 {
		return nil, errors.New("middleware: AllowConfig.CIDRs is empty")
	}
	allow := make([]netip.Prefix, 0, len(cfg.CIDRs))
	for _, s := range cfg.CIDRs {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("middleware: AllowConfig.CIDRs: %w", err)
		}
		allow = append(allow, p)
	}
	var proxy netip.Prefix
	if cfg.TrustedProxy != "" {
		p, err := parsePrefix(cfg.TrustedProxy)
		if err != nil {
			return nil, fmt.Errorf("middleware: AllowConfig.TrustedProxy: %w", err)
		}
		proxy = p
	}
	switch {
	case cfg.Status == 0:
		cfg.Status = http.StatusForbidden
	case cfg.Status < 400 || cfg.Status > 599:
		return nil, fmt.Errorf("middleware: AllowConfig.Status %d is not an error status", cfg.Status)
	}
	body := "forbidden"
	if cfg.ReplyFail {
		body = failBody
	}
	log := orDefault(cfg.Logger)
	a := &allowList{allow: allow, proxy: proxy}

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			addr, ok := a.client(r)
			if ok && a.allowed(addr) {
				next.ServeHTTP(w, r)
				return
			}
			client := "unknown"
			if ok {
				client = addr.String()
			}
			log.LogAttrs(r.Context(), slog.LevelWarn, "request from outside the allow-list",
				slog.String("path", r.URL.Path),
				slog.String("remote", r.RemoteAddr),
				slog.String("client", client))
			writeText(w, cfg.Status, body)
		})
	}, nil
}

type allowList struct {
	allow []netip.Prefix
	proxy netip.Prefix // invalid (zero) when no proxy is trusted
}

func (a *allowList) allowed(addr netip.Addr) bool {
	for _, p := range a.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// client returns the address the request is judged by.
func (a *allowList) client(r *http.Request) (netip.Addr, bool) {
	remote, ok := parseRemote(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if !a.proxy.IsValid() || !a.proxy.Contains(remote) {
		return remote, true
	}
	lines := r.Header.Values(ForwardedForHeader)
	if len(lines) == 0 {
		return netip.Addr{}, false
	}
	last := lines[len(lines)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	addr, err := netip.ParseAddr(strings.TrimSpace(last))
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.WithZone("").Unmap(), true
}

// parseRemote reads http.Request.RemoteAddr ("ip:port", or a bare address
// from some test servers).
func parseRemote(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	if addr, err := netip.ParseAddr(s); err == nil {
		return addr.WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}

// parsePrefix reads a CIDR or a bare address (a single host).
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%q: write IPv4 networks in IPv4 form", s)
		}
		return p.Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if addr.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: zoned addresses are not allowed", s)
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}
