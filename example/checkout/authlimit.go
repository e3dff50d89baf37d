package main

import (
	"container/list"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The admin routes' bound on guessing: a client (an IPv4 address, or an
// IPv6 /64, which one host usually owns whole) that failed
// maxAuthFailures times within authWindow is answered 429 until the
// window, counted from its first failure, has passed. The table holds at
// most maxAuthClients clients; beyond that the one that failed longest ago
// is forgotten. Behind a reverse proxy every client shares its address:
// the bound then holds for all of them together.
const (
	maxAuthFailures = 10
	authWindow      = 10 * time.Minute
	maxAuthClients  = 4096
)

// authFailures counts failed authentications per client.
type authFailures struct {
	mu      sync.Mutex
	now     func() time.Time
	max     int
	clients map[string]*list.Element // of *authClient
	order   *list.List               // least recently failed first
}

type authClient struct {
	key      string
	first    time.Time
	failures int
}

func newAuthFailures(now func() time.Time, maxClients int) *authFailures {
	return &authFailures{now: now, max: maxClients, clients: map[string]*list.Element{}, order: list.New()}
}

// blocked says whether r's client has used up its failures, and for how
// long it stays refused.
func (f *authFailures) blocked(r *http.Request) (bool, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.clients[clientKey(r)]
	if !ok {
		return false, 0
	}
	c := e.Value.(*authClient)
	left := c.first.Add(authWindow).Sub(f.now())
	if left <= 0 {
		f.order.Remove(e)
		delete(f.clients, c.key)
		return false, 0
	}
	return c.failures >= maxAuthFailures, left
}

// fail counts a failed authentication of r's client.
func (f *authFailures) fail(r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now, key := f.now(), clientKey(r)
	if e, ok := f.clients[key]; ok {
		c := e.Value.(*authClient)
		if now.Sub(c.first) >= authWindow {
			c.first, c.failures = now, 0
		}
		c.failures++
		f.order.MoveToBack(e)
		return
	}
	if f.order.Len() >= f.max {
		oldest := f.order.Front()
		f.order.Remove(oldest)
		delete(f.clients, oldest.Value.(*authClient).key)
	}
	f.clients[key] = f.order.PushBack(&authClient{key: key, first: now, failures: 1})
}

// retryAfter is d as a Retry-After value: whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// clientKey is the client of r as the bound counts it: its IPv4 address,
// or the /64 of its IPv6 address.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return host
	case ip.To4() != nil:
		return ip.To4().String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
