package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// maxResponse bounds the reply body; the largest documented reply (a
// refund query with its list) is a few kilobytes.
const maxResponse = 1 << 20

// formContentType is the request body's type. The gateway ignores the
// charset parameter, but it documents UTF-8.
const formContentType = "application/x-www-form-urlencoded; charset=UTF-8"

// endpoint is where one call goes: the URL, and the method parameter to
// send ("" for the legacy /Open endpoints, which select by path).
type endpoint struct {
	op     string
	url    string
	method string
}

// call validates, signs and posts req, then verifies the reply and decodes
// it into dst (a pointer to a response struct embedding model.Envelope).
// It returns an error for everything short of a verified, decoded reply;
// judging the reply's state and codes is the caller's.
func (c *Client) call(ctx context.Context, ep endpoint, req any, mchID string, dst any) error {
	if err := model.Validate(req); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadRequest, ep.op, err)
	}
	form, err := model.Encode(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadRequest, ep.op, err)
	}
	if ep.method != "" {
		form.Set("method", ep.method)
	}
	if c.version == model.V1 {
		form.Set("agent_id", c.keys.AgentID)
	}
	form.Set("pid", c.pid)
	form.Set("version", c.appVersion)
	if n := c.nonce(); n != "" {
		form.Set("nonce_str", n)
	}
	keys, err := c.keys.Keys(ctx, c.version, mchID)
	if err != nil {
		return fmt.Errorf("client: %s: %w", ep.op, err)
	}
	s, err := sign.Sign(form, keys[0], c.alg)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadRequest, ep.op, err)
	}
	form.Set(sign.Param, s)

	// A context that is already done means nothing was sent: that is a
	// definite failure, not an unknown outcome.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("client: %s: %w", ep.op, err)
	}
	hreq, err := http.NewRequestWithContext(withOp(ctx, ep.op), http.MethodPost, ep.url, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("client: %s: %w", ep.op, err)
	}
	hreq.Header.Set("Content-Type", formContentType)
	hreq.Header.Set("Accept", "application/json")
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnknownOutcome, ep.op, err)
	}
	defer hresp.Body.Close()
	if hresp.StatusCode < 200 || hresp.StatusCode > 299 {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(hresp.Body, 4<<10))
		return &GatewayError{Op: ep.op, HTTPStatus: hresp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(hresp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("%w: %s: reading reply: %w", ErrUnknownOutcome, ep.op, err)
	}
	if len(body) > maxResponse {
		return fmt.Errorf("%w: %s: reply larger than %d bytes", ErrUnknownOutcome, ep.op, maxResponse)
	}
	fields, err := parseReply(body)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnknownOutcome, ep.op, err)
	}
	if err := c.verifyReply(ep.op, fields, keys); err != nil {
		return err
	}
	values := make(url.Values, len(fields))
	for k, v := range fields {
		values[k] = []string{v}
	}
	if lookup(fields, sign.Param) != "" {
		// A signed reply can be re-cut like a notification without
		// changing its sign; the decided fields' shapes rule that out
		// (guarantee G10). An unsigned error reply proves nothing either
		// way, and is only ever an error.
		if err := model.CheckReply(values); err != nil {
			return &Unverified{Op: ep.op, Reason: ErrResponseSign, Fields: fields, err: err}
		}
	}
	// Payment facts (coupon, currency, bank, WeChat ids) are recorded,
	// never decided on: ones that could be a re-cut's making are dropped,
	// all together, and the reply still counts. An unsigned reply's facts
	// prove nothing either.
	factsDropped := false
	if err := model.CheckFacts(values); err != nil || lookup(fields, sign.Param) == "" {
		factsDropped = err != nil
		facts := model.FactFields()
		for k := range values {
			for _, f := range facts {
				if strings.EqualFold(k, f.Name) {
					delete(values, k)
				}
			}
		}
	}
	if err := model.Decode(dst, values); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnknownOutcome, ep.op, err)
	}
	if q, ok := dst.(*model.OrderQueryResponse); ok {
		q.FactsDropped = factsDropped
	}
	return nil
}

// verifyReply enforces guarantee G14: a reply must carry a sign that
// verifies, unless it is a plain error reply (state not SUCCESS, or a
// 2xxxx / 3xxxx code), which the gateway sends unsigned and which the
// callers only ever turn into an error. Every other reply — paid, not
// paid, closed, refunded, cancelled, a refund's status, a pre-order's
// code_url, whatever its state, trade_state or code — decides something,
// so without a verified sign it is an *Unverified error (ErrUnsigned or
// ErrResponseSign): an unknown outcome, to be asked again.
func (c *Client) verifyReply(op string, fields map[string]string, keys []string) error {
	if lookup(fields, sign.Param) != "" {
		if err := sign.VerifyMap(fields, c.alg, keys...); err != nil {
			return &Unverified{Op: op, Reason: ErrResponseSign, Fields: fields, err: err}
		}
		return nil
	}
	if lookup(fields, "state") != string(model.StateSuccess) || failedCode(model.Code(lookup(fields, "code"))) {
		return nil
	}
	return &Unverified{Op: op, Reason: ErrUnsigned, Fields: fields}
}

// lookup finds a member in any letter case, as model.Decode does; parseReply
// guarantees there is at most one.
func lookup(fields map[string]string, name string) string {
	if v, ok := fields[name]; ok {
		return v
	}
	for k, v := range fields {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// parseReply reads a JSON object into name → text. The documented values
// are all strings; a number or boolean becomes its JSON text, null the
// empty string, and a nested object or array its compact JSON text. A name
// given twice is an error, as it is for forms: which value the gateway
// signed would be a guess.
func parseReply(body []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("reply is not a JSON object")
	}
	out := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("reply is not valid JSON")
		}
		name, _ := tok.(string)
		// The decoder matches names in any letter case, so state and
		// STATE would be one field given twice.
		folded := strings.ToLower(name)
		if seen[folded] {
			return nil, fmt.Errorf("reply names %q twice", name)
		}
		seen[folded] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errors.New("reply is not valid JSON")
		}
		v, err := replyValue(raw)
		if err != nil {
			return nil, fmt.Errorf("reply member %q: %w", name, err)
		}
		out[name] = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errors.New("reply is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("reply has data after the JSON object")
	}
	return out, nil
}

func replyValue(raw json.RawMessage) (string, error) {
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", errors.New("bad string")
		}
		return s, nil
	case 'n':
		return "", nil
	case '{', '[':
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return "", errors.New("bad JSON")
		}
		return b.String(), nil
	}
	return string(raw), nil
}
