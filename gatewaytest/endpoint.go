package gatewaytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cypaykit/kit/internal/recut"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// EndpointCheck describes a deployed notification URL and one open
// attempt that its operator created for the check. CheckEndpoint sends
// that attempt a battery of notifications; the last ones are genuine and
// settle it, so use an attempt made for the purpose.
type EndpointCheck struct {
	// URL is the shop's notify_url.
	URL string
	// Key signs the notifications: the merchant key (v2) or the agent key
	// (v1) of the attempt.
	Key string
	// Alg is the signing algorithm. Zero means MD5.
	Alg sign.Algorithm
	// MchID is the attempt's merchant.
	MchID string
	// OutTradeNo is the open attempt the battery ends by paying.
	OutTradeNo string
	// TotalFee is the attempt's amount in fen.
	TotalFee int64
	// Channel picks the notification layout. Zero means WECHAT.
	Channel model.PayType
	// Client sends the requests. Nil means a client with a 10 s timeout.
	Client *http.Client
	// Cutoff is how soon a shop must give up on a slow body. Zero means
	// 3 s, the gateway's own wait for a reply.
	Cutoff time.Duration
	// SlowFor is how long the slow body takes to arrive in full. Zero
	// means 6 s; it must exceed Cutoff.
	SlowFor time.Duration
	// Oversize is the size of the oversized (and validly signed) body.
	// Zero means 1 MiB.
	Oversize int
}

// CheckResult is one check's outcome.
type CheckResult struct {
	// Name says what was sent.
	Name string
	// Want is what a correct shop answers: "success" or "refused".
	Want string
	// Got is what the shop answered: status, reply and time, or the
	// transport error.
	Got string
	// Pass is true when Got is what was wanted.
	Pass bool
}

// What a check wants: "success" from a correct shop, or anything but
// "success" (an error status, another body, a closed connection) within
// the cutoff.
const (
	WantSuccess = "success"
	WantRefused = "refused"
)

// CheckEndpoint runs the battery against c.URL, in this order: a bad
// sign; a validly signed wrong amount; the sign sent in the query string
// instead of the body (a shop must read the signed set from the body
// only); re-cuts of the genuine notification that keep its sign (a blank
// TOTAL_FEE added, total_fee and out_trade_no folded into the field
// before them — guarantee G10's forgeries); a validly signed oversized
// body; a body that arrives slower than c.Cutoff; then the genuine paid
// notification and a duplicate of it, each of which must be answered
// "success" within the gateway's 3 s. The refusals come first, so that a
// shop that wrongly accepts one is seen doing it on an open attempt.
//
// It returns every result; a transport error is a result, not an error.
// The error is for a check that could not be built (a bad key or URL).
func CheckEndpoint(ctx context.Context, c EndpointCheck) ([]CheckResult, error) {
	if c.Alg == "" {
		c.Alg = sign.MD5
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Cutoff == 0 {
		c.Cutoff = 3 * time.Second
	}
	if c.SlowFor == 0 {
		c.SlowFor = 6 * time.Second
	}
	if c.Oversize == 0 {
		c.Oversize = 1 << 20
	}
	switch {
	case c.SlowFor <= c.Cutoff:
		return nil, errors.New("gatewaytest: EndpointCheck.SlowFor must exceed Cutoff")
	case c.Key == "" || c.MchID == "" || c.OutTradeNo == "" || c.TotalFee <= 0:
		return nil, errors.New("gatewaytest: EndpointCheck needs Key, MchID, OutTradeNo and a positive TotalFee")
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gatewaytest: EndpointCheck.URL %q is not an http(s) URL", c.URL)
	}
	pay := Payment{Channel: c.Channel, MchID: c.MchID, OutTradeNo: c.OutTradeNo, TotalFee: c.TotalFee}
	genuine, err := NotificationValues(pay, c.Key, c.Alg)
	if err != nil {
		return nil, err
	}
	signed := func(edit func(p *Payment)) (url.Values, error) {
		p := pay
		p.TransactionID = genuine.Get("transaction_id")
		p.OutTransactionID = genuine.Get("out_transaction_id")
		edit(&p)
		return NotificationValues(p, c.Key, c.Alg)
	}

	badSign := clone(genuine)
	s := badSign.Get("sign")
	badSign.Set("sign", flipLast(s))

	wrongAmount, err := signed(func(p *Payment) { p.TotalFee++ })
	if err != nil {
		return nil, err
	}
	signInQuery := clone(genuine)
	signInQuery.Del("sign")
	queryURL := c.URL + sepFor(c.URL) + url.Values{"sign": {genuine.Get("sign")}}.Encode()

	oversized, err := signed(func(p *Payment) {
		p.Extra = map[string]string{"attach": strings.Repeat("a", c.Oversize)}
	})
	if err != nil {
		return nil, err
	}

	var out []CheckResult
	add := func(name, want string, got reply) {
		out = append(out, CheckResult{Name: name, Want: want, Got: got.String(), Pass: got.meets(want, c.Cutoff)})
	}
	post := func(target, body string) reply {
		return postBody(ctx, c.Client, target, strings.NewReader(body), int64(len(body)))
	}

	add("bad sign", WantRefused, post(c.URL, badSign.Encode()))
	add(fmt.Sprintf("wrong amount (total_fee %d, signed)", c.TotalFee+1), WantRefused, post(c.URL, wrongAmount.Encode()))
	add("sign in the query string, not the body", WantRefused, post(queryURL, signInQuery.Encode()))
	for _, cut := range recuts(genuine) {
		if sign.Verify(cut.v, c.Alg, c.Key) != nil {
			continue // the cut changed the signed string: not a re-cut
		}
		add("re-cut: "+cut.name, WantRefused, post(c.URL, cut.v.Encode()))
	}
	add(fmt.Sprintf("oversized body (%d bytes, signed)", len(oversized.Encode())), WantRefused, post(c.URL, oversized.Encode()))
	slow := badSign.Encode()
	add(fmt.Sprintf("slow body (%d bytes over %s; cut off within %s)", len(slow), c.SlowFor, c.Cutoff), WantRefused,
		postBody(ctx, c.Client, c.URL, &dribble{ctx: ctx, data: []byte(slow), every: c.SlowFor / time.Duration(len(slow))}, int64(len(slow))))
	add("genuine paid notification", WantSuccess, post(c.URL, genuine.Encode()))
	add("duplicate of it", WantSuccess, post(c.URL, genuine.Encode()))
	return out, nil
}

// reply is what one request got.
type reply struct {
	status  int
	body    string
	err     error
	elapsed time.Duration
}

func (r reply) String() string {
	if r.err != nil {
		return fmt.Sprintf("%v after %s", r.err, r.elapsed.Round(time.Millisecond))
	}
	return fmt.Sprintf("HTTP %d %q in %s", r.status, r.body, r.elapsed.Round(time.Millisecond))
}

// meets reports whether r is what want asks: exactly "success" within
// the gateway's 3 s, or anything else — an error status, another body, a
// closed connection — as long as it came within cutoff.
func (r reply) meets(want string, cutoff time.Duration) bool {
	if want == WantSuccess {
		return r.err == nil && r.body == "success" && r.elapsed <= 3*time.Second
	}
	return (r.err != nil || r.body != "success") && r.elapsed <= cutoff
}

func postBody(ctx context.Context, hc *http.Client, target string, body io.Reader, n int64) reply {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body)
	if err != nil {
		return reply{err: err}
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return reply{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	return reply{status: resp.StatusCode, body: string(b), err: err, elapsed: time.Since(start)}
}

// dribble is a body that sends one byte per interval: a slowloris.
type dribble struct {
	ctx   context.Context
	data  []byte
	every time.Duration
	sent  int
}

func (d *dribble) Read(p []byte) (int, error) {
	if d.sent == len(d.data) {
		return 0, io.EOF
	}
	if d.sent > 0 {
		t := time.NewTimer(d.every)
		select {
		case <-t.C:
		case <-d.ctx.Done():
			t.Stop()
			return 0, d.ctx.Err()
		}
	}
	n := copy(p[:1], d.data[d.sent:])
	d.sent += n
	return n, nil
}

type namedCut struct {
	name string
	v    url.Values
}

// recuts returns re-cuts of the genuine notification that a strict shop
// must refuse, as package recut builds them for the kit's own tests.
func recuts(genuine url.Values) []namedCut {
	msg := map[string]string{}
	for k := range genuine {
		msg[k] = genuine.Get(k)
	}
	cuts := []namedCut{}
	blank := clone(genuine)
	blank.Set("TOTAL_FEE", " ")
	cuts = append(cuts, namedCut{"a blank TOTAL_FEE added beside total_fee", blank})
	canon := recut.Canonical(msg)
	for _, name := range []string{"total_fee", "out_trade_no", "mch_id"} {
		for i, p := range canon {
			if p.K != name || i == 0 {
				continue
			}
			prev := canon[i-1]
			v := clone(genuine)
			v.Del(name)
			v.Set(prev.K, prev.V+"&"+p.K+"="+p.V)
			cuts = append(cuts, namedCut{fmt.Sprintf("%s folded into %s", name, prev.K), v})
		}
	}
	return cuts
}

func clone(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func flipLast(s string) string {
	if s == "" {
		return "0"
	}
	last := s[len(s)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return s[:len(s)-1] + string(repl)
}

func sepFor(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}
