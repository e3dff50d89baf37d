package gatewaytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/sign"
)

// OnPath is a party on the network path between the kit and the gateway —
// a proxy, a plain-http gateway URL, a compromised egress — as an
// http.RoundTripper for client.Config.HTTPClient. It passes requests on
// unchanged and rewrites the JSON replies of the calls it is told to:
// strip the sign, set or drop a field, re-sign with a key it knows. It
// tests guarantee G14: no such reply may change the kit's state.
//
// Rules are chosen by the call's client.CallOp (client.OpOrderQuery,
// client.OpCancel, client.OpRefund, client.OpRefundQuery,
// client.OpPreOrder); "" matches every call. Only 2xx replies that are a
// JSON object are rewritten; their values are sent on as JSON strings
// (the client reads numbers as their text anyway). It is safe for
// concurrent use.
type OnPath struct {
	next http.RoundTripper

	mu        sync.Mutex
	rules     map[string][]func(form url.Values, reply map[string]string)
	rewritten map[string]int
	last      map[string]map[string]string
}

// Rewrite changes one decoded reply in place: name → text.
type Rewrite func(reply map[string]string)

// NewOnPath returns an OnPath in front of next; nil means
// http.DefaultTransport. With no rules it changes nothing.
func NewOnPath(next http.RoundTripper) *OnPath {
	if next == nil {
		next = http.DefaultTransport
	}
	return &OnPath{next: next, rules: map[string][]func(url.Values, map[string]string){},
		rewritten: map[string]int{}, last: map[string]map[string]string{}}
}

// Rewrite sets the rewrites of the replies to op ("" for every call),
// applied in order, replacing any set before for op. No rewrites clears
// op's rules.
func (p *OnPath) Rewrite(op string, rw ...Rewrite) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(rw) == 0 {
		delete(p.rules, op)
		return
	}
	p.rules[op] = nil
	for _, f := range rw {
		p.rules[op] = append(p.rules[op], func(_ url.Values, r map[string]string) { f(r) })
	}
}

// RewriteEach is Rewrite with a rewrite chosen per request: fn sees the
// request's form (out_trade_no, out_refund_no …) and the reply. It
// replaces any rules set before for op.
func (p *OnPath) RewriteEach(op string, fn func(form url.Values, reply map[string]string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules[op] = []func(url.Values, map[string]string){fn}
}

// Clear drops every rule: replies pass unchanged again.
func (p *OnPath) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.rules)
}

// Rewritten returns how many replies to op have been rewritten so far.
func (p *OnPath) Rewritten(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rewritten[op]
}

// Last returns a copy of the last reply to op as it was sent on, after
// the rewrites, or nil.
func (p *OnPath) Last(op string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.last[op])
}

// RoundTrip sends req on and rewrites its reply when a rule matches.
func (p *OnPath) RoundTrip(req *http.Request) (*http.Response, error) {
	op := client.CallOp(req.Context())
	var form url.Values
	if req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			raw, _ := io.ReadAll(b)
			form, _ = url.ParseQuery(string(raw))
		}
	}
	resp, err := p.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, err
	}
	p.mu.Lock()
	rules := slices.Concat(p.rules[""], p.rules[op])
	p.mu.Unlock()
	if len(rules) == 0 {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	reply, err := decodeReply(body)
	if err == nil {
		for _, rw := range rules {
			rw(form, reply)
		}
		if body, err = json.Marshal(reply); err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.rewritten[op]++
		p.last[op] = maps.Clone(reply)
		p.mu.Unlock()
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp, nil
}

// decodeReply reads a JSON object into name → text, as the client does:
// strings as they are, anything else as its JSON text.
func decodeReply(body []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
			continue
		}
		out[k] = string(v)
	}
	return out, nil
}

// StripSign removes the sign, as a party that changed the reply and
// cannot sign must.
func StripSign() Rewrite {
	return dropSign
}

// dropSign deletes the sign under any letter case.
func dropSign(r map[string]string) {
	for k := range r {
		if strings.EqualFold(k, sign.Param) {
			delete(r, k)
		}
	}
}

// Set sets name to value; the sign is left as it is (so it no longer
// verifies, unless Resign follows).
func Set(name, value string) Rewrite {
	return func(r map[string]string) { r[name] = value }
}

// Drop removes name; the sign is left as it is.
func Drop(name string) Rewrite {
	return func(r map[string]string) { delete(r, name) }
}

// Resign signs the reply as it now stands with key and alg (zero means
// MD5). With the gateway's key it stands for a reply the gateway really
// signed; with any other key, for a forger's.
func Resign(alg sign.Algorithm, key string) Rewrite {
	if alg == "" {
		alg = sign.MD5
	}
	return func(r map[string]string) {
		dropSign(r)
		s, err := sign.SignMap(r, key, alg)
		if err != nil {
			panic(fmt.Sprintf("gatewaytest: Resign: %v", err))
		}
		r[sign.Param] = s
	}
}

// Replace replaces the whole reply with fields (then rewrites that follow
// apply to it): a made-up answer, such as an unsigned "closed".
func Replace(fields map[string]string) Rewrite {
	return func(r map[string]string) {
		clear(r)
		maps.Copy(r, fields)
	}
}
