package kithertz

import (
	"context"
	"net/http"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/protocol"

	"github.com/cypaykit/kit/internal/bridge"
)

// Handler returns an app.HandlerFunc that serves h. The request h sees
// carries ctx (so values earlier middleware put there reach it), Hertz's
// path parameters through r.PathValue, and a copy of the body exactly as
// the client sent it: Hertz has read it, and nothing decodes or
// re-encodes it, so a notification's sign verifies. Path values are
// passed as Hertz gives them: unescaped, unless the server sets
// WithUseRawPath without WithUnescapePathValues. h's reply is buffered
// into c.Response, which Hertz sends when the chain returns.
func Handler(h http.Handler) app.HandlerFunc {
	return func(ctx context.Context, c *app.RequestContext) {
		r, ok := request(ctx, c)
		if !ok {
			return
		}
		for _, p := range c.Params {
			r.SetPathValue(p.Key, bridge.PathValue(p.Value, false))
		}
		h.ServeHTTP(bridge.NewWriter(response{&c.Response}), r)
	}
}

// Middleware returns an app.HandlerFunc that runs mw. When mw calls its
// next handler, the rest of Hertz's chain runs (c.Next) with the context
// of the request mw passed on, so values mw put there (the verified
// notification, say) reach Hertz handlers through their ctx. When mw does
// not call next (it rejected the request and answered it), the chain is
// aborted: no later Hertz handler runs.
//
// If mw wraps the http.ResponseWriter (to record the status, say), the
// status and body the later Hertz handlers answered are replayed through
// the wrapper once they return, so mw sees them.
func Middleware(mw func(http.Handler) http.Handler) app.HandlerFunc {
	return func(ctx context.Context, c *app.RequestContext) {
		r, ok := request(ctx, c)
		if !ok {
			c.Abort()
			return
		}
		called := bridge.Run(mw, bridge.NewWriter(response{&c.Response}), r, func(r *http.Request) bool {
			c.Next(r.Context())
			return true
		})
		if !called {
			c.Abort()
		}
	}
}

// request converts c's request, or answers the gateway's literal fail
// (400) and reports false when it cannot: a body that cannot be read
// must not be verified in part.
func request(ctx context.Context, c *app.RequestContext) (*http.Request, bool) {
	body, err := c.Request.BodyE()
	var r *http.Request
	if err == nil {
		r, err = bridge.NewRequest(ctx, bridge.Request{
			Method:       string(c.Request.Method()),
			RequestURI:   string(c.Request.RequestURI()),
			Host:         string(c.Request.Host()),
			RemoteAddr:   c.RemoteAddr().String(),
			Proto:        c.Request.Header.GetProtocol(),
			Body:         body,
			VisitHeaders: c.Request.Header.VisitAll,
			RawHeaders:   c.Request.Header.RawHeaders(),
		})
	}
	if err != nil {
		c.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
		c.String(http.StatusBadRequest, "fail")
		return nil, false
	}
	return r, true
}

// response exposes a Hertz response to the bridge.
type response struct{ r *protocol.Response }

var _ bridge.Response = response{}

func (x response) Status() int         { return x.r.StatusCode() }
func (x response) SetStatus(code int)  { x.r.SetStatusCode(code) }
func (x response) Body() []byte        { return x.r.Body() }
func (x response) ResetBody()          { x.r.ResetBody() }
func (x response) AppendBody(p []byte) { x.r.AppendBody(p) }
func (x response) SetHeader(name string, values []string) {
	x.r.Header.Del(name)
	for _, v := range values {
		x.r.Header.Add(name, v)
	}
}
