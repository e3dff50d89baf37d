package kitgin

import (
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Handler returns a gin.HandlerFunc that serves h. gin's path parameters
// are copied to the request with SetPathValue, so a kit handler that reads
// r.PathValue("out_trade_no") works under the gin route
// "/orders/:out_trade_no". Values are passed as gin gives them: unescaped,
// unless the engine sets UseRawPath without UnescapePathValues. A
// catch-all parameter ("*rest") keeps gin's leading slash.
func Handler(h http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		r := c.Request
		if len(c.Params) > 0 {
			r = r.WithContext(r.Context()) // a shallow copy: gin keeps c.Request
			for _, p := range c.Params {
				r.SetPathValue(p.Key, p.Value)
			}
		}
		h.ServeHTTP(c.Writer, r)
	}
}

// Middleware returns a gin.HandlerFunc that runs mw. When mw calls its next
// handler, the rest of gin's chain runs (c.Next) with the request mw passed
// on, so values mw put in the context reach gin handlers through
// c.Request. When mw does not call next (it rejected the request and
// answered it), the chain is aborted: no later gin handler runs.
//
// If mw wraps the http.ResponseWriter (to record the status, say), gin
// handlers after it write through that wrapper, and mw sees the status of
// replies gin writes itself after the chain (its 404 for an unknown route
// when Middleware is mounted with Use, its 405).
func Middleware(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		called := false
		orig := c.Writer
		mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			called = true
			c.Request = r
			if w != http.ResponseWriter(orig) {
				c.Writer = &writer{ResponseWriter: orig, w: w}
				defer func() { c.Writer = orig }()
			}
			c.Next()
			if !orig.Written() {
				// gin writes its own 404 and 405 (and any reply nobody
				// wrote) only after the chain returns, past mw. Send the
				// status gin holds through mw's writer now, so that mw
				// sees the status the client gets; gin still writes the
				// body.
				w.WriteHeader(orig.Status())
			}
		})).ServeHTTP(orig, c.Request)
		if !called {
			c.Abort()
		}
	}
}

// writer sends gin's writes through the kit middleware's wrapper w, which
// itself writes to the original gin writer; gin's bookkeeping (Status,
// Size, Written) therefore stays on the original.
type writer struct {
	gin.ResponseWriter
	w http.ResponseWriter
}

func (w *writer) Header() http.Header               { return w.w.Header() }
func (w *writer) WriteHeader(code int)              { w.w.WriteHeader(code) }
func (w *writer) Write(p []byte) (int, error)       { return w.w.Write(p) }
func (w *writer) WriteString(s string) (int, error) { return io.WriteString(w.w, s) }

func (w *writer) Flush() {
	_ = http.NewResponseController(w.w).Flush()
}

// Unwrap lets http.ResponseController reach the kit middleware's writer.
func (w *writer) Unwrap() http.ResponseWriter { return w.w }
