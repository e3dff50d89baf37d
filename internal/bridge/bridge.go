// Package bridge runs the kit's net/http handlers and middleware inside
// frameworks that are not net/http (Hertz, Fiber): it builds an
// *http.Request over the framework's already-read body, without decoding
// or re-encoding a byte, and an http.ResponseWriter that buffers into the
// framework's response. The adapters kithertz and kitfiber supply the
// framework side through the small Response interface.
package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Request describes an incoming framework request. Every field must stay
// valid after the framework handler returns or be copied by NewRequest:
// fasthttp-based frameworks reuse their buffers, so NewRequest copies the
// body and every string it keeps.
type Request struct {
	// Method is the request method.
	Method string
	// RequestURI is the target as received: path and query, still escaped.
	RequestURI string
	// Host is the Host header's value.
	Host string
	// RemoteAddr is the client's address, host:port.
	RemoteAddr string
	Proto      string // zero means HTTP/1.1
	Body       []byte // the raw body as the framework read it
	// VisitHeaders calls fn for each request header line.
	VisitHeaders func(fn func(key, value []byte))
	// RawHeaders is the header block as received, if the framework keeps
	// it; nil means unknown. fasthttp and Hertz keep one Content-Type
	// (the last) where the client sent several, so the kit would accept a
	// request that net/http, which keeps them all, refuses (415). From
	// RawHeaders, NewRequest restores every Content-Type the client sent.
	RawHeaders []byte
}

// NewRequest returns an *http.Request for fr under ctx. The body is a copy
// of fr.Body, so the kit reads exactly the bytes the client sent (a
// notification's sign covers them) even if the framework reuses its
// buffer after the handler returns.
func NewRequest(ctx context.Context, fr Request) (*http.Request, error) {
	u, err := url.ParseRequestURI(fr.RequestURI)
	if err != nil {
		return nil, err
	}
	proto := fr.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		major, minor = 1, 1
	}
	r := &http.Request{
		Method:     strings.Clone(fr.Method),
		URL:        u,
		Proto:      proto,
		ProtoMajor: major,
		ProtoMinor: minor,
		Header:     http.Header{},
		Host:       strings.Clone(fr.Host),
		RemoteAddr: fr.RemoteAddr,
		RequestURI: strings.Clone(fr.RequestURI),
	}
	if fr.VisitHeaders != nil {
		fr.VisitHeaders(func(k, v []byte) {
			r.Header.Add(string(k), string(v))
		})
	}
	if ct := contentTypes(fr.RawHeaders); len(ct) > 1 {
		r.Header["Content-Type"] = ct
	}
	r.ContentLength = int64(len(fr.Body))
	if len(fr.Body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(bytes.Clone(fr.Body)))
	} else {
		r.Body = http.NoBody
	}
	return r.WithContext(ctx), nil
}

// contentTypes returns the values of every Content-Type line in a raw
// header block, in order.
func contentTypes(raw []byte) []string {
	var out []string
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(name)), "Content-Type") {
			out = append(out, string(bytes.TrimSpace(value)))
		}
	}
	return out
}

// PathValue returns a framework path parameter for r.SetPathValue: a copy
// (the framework may reuse the bytes behind v), unescaped when escaped is
// true, that is when the framework matched the route on the escaped path
// and so hands out escaped values. net/http's own PathValue is unescaped.
func PathValue(v string, escaped bool) string {
	if escaped {
		if u, err := url.PathUnescape(v); err == nil {
			return u // a fresh string whenever it differs from v
		}
	}
	return strings.Clone(v)
}

// Response is the framework's buffered response, as the adapters expose
// it.
type Response interface {
	// Status is the status code set so far (the framework's default when
	// none was).
	Status() int
	// SetStatus sets the status code.
	SetStatus(code int)
	// SetHeader replaces every value of the header name.
	SetHeader(name string, values []string)
	// Body is the body buffered so far.
	Body() []byte
	// ResetBody drops the body buffered so far.
	ResetBody()
	// AppendBody adds p to the buffered body.
	AppendBody(p []byte)
}

// Writer is an http.ResponseWriter that buffers into a framework
// Response, with net/http's rules: headers set after the first
// WriteHeader or Write are ignored, and a later WriteHeader is too.
type Writer struct {
	res    Response
	header http.Header
	wrote  bool
}

// NewWriter returns a Writer over res.
func NewWriter(res Response) *Writer { return &Writer{res: res, header: http.Header{}} }

// Header returns the header map that WriteHeader sends.
func (w *Writer) Header() http.Header { return w.header }

// WriteHeader sends the header map and code to the framework response.
// The first one also drops any body the framework's own handlers left,
// so a kit middleware that answers after a panic below it (Recover)
// answers alone.
func (w *Writer) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.applyHeader()
	w.res.ResetBody()
	w.res.SetStatus(code)
}

// Write appends p to the framework response, sending 200 first if no
// status was written.
func (w *Writer) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	w.res.AppendBody(p)
	return len(p), nil
}

// Flush does nothing: the framework sends the buffered response when its
// handler returns. It lets code that flushes run unchanged.
func (w *Writer) Flush() {}

func (w *Writer) applyHeader() {
	for k, vv := range w.header {
		if k == "Content-Length" {
			continue // the framework sets it from the buffered body
		}
		w.res.SetHeader(k, vv)
	}
}

// Run runs the kit middleware mw on r, with w as the writer, around the
// framework's remaining chain. chain runs that chain for the request mw
// passed on and reports whether it ended without a framework error (only
// then is its response replayed). Run reports whether mw called its next
// handler; when it did not, the adapter must stop the framework chain.
//
// When mw wraps the writer (the kit Logger, Recover, BodyLimit do), the
// framework handlers' status and body are replayed through the wrapper
// after the chain returns, so the middleware sees what they answered.
// Headers the framework handlers set stay on the framework response.
func Run(mw func(http.Handler) http.Handler, w *Writer, r *http.Request, chain func(r *http.Request) bool) bool {
	called := false
	mw(http.HandlerFunc(func(ww http.ResponseWriter, r *http.Request) {
		called = true
		if !w.wrote {
			w.applyHeader() // headers mw set before passing the request on
		}
		ok := chain(r)
		if ww == http.ResponseWriter(w) || !ok || w.wrote {
			return
		}
		status, body := w.res.Status(), bytes.Clone(w.res.Body())
		ww.WriteHeader(status)
		_, _ = ww.Write(body)
	})).ServeHTTP(w, r)
	return called
}
