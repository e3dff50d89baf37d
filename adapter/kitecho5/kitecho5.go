package kitecho5

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v5"
)

// Handler returns an echo.HandlerFunc that serves h. echo's path
// parameters are copied to the request with SetPathValue, so a kit
// handler that reads r.PathValue("out_trade_no") works under the echo
// route "/orders/:out_trade_no". Values are unescaped as net/http's own
// PathValue is: echo's default router matches on the escaped path, and
// so hands out escaped values, whenever the URL needs its raw form (an
// encoded slash, "%2F"). A router built with UnescapePathParamValues or
// UseEscapedPathForMatching has unescaped them already; a value then
// holding an escape ("%25") is unescaped twice. The catch-all parameter
// is named "*".
func Handler(h http.Handler) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		if params := c.PathValues(); len(params) > 0 {
			raw := r.URL.RawPath != ""
			r = r.WithContext(r.Context()) // a shallow copy: echo keeps c.Request()
			for _, p := range params {
				v := p.Value
				if raw {
					if u, err := url.PathUnescape(v); err == nil {
						v = u
					}
				}
				r.SetPathValue(p.Name, v)
			}
		}
		h.ServeHTTP(c.Response(), r)
		return nil
	}
}

// Middleware returns an echo.MiddlewareFunc that runs mw. When mw calls
// its next handler, the rest of echo's chain runs with the request mw
// passed on (so values mw put in the context reach echo handlers through
// c.Request()) and with mw's http.ResponseWriter, so a wrapping middleware
// such as the kit Logger sees what they write. When mw does not call next
// (it rejected the request and answered it), no later handler runs and
// the reply is mw's. An error from the chain is returned to echo.
func Middleware(mw func(http.Handler) http.Handler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			var err error
			orig := c.Response()
			mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				if w != orig {
					// A fresh echo.Response over mw's writer, which itself
					// writes to orig: echo's bookkeeping (Committed, Status,
					// Size) stays right on both, and echo.UnwrapResponse
					// finds it.
					c.SetResponse(echo.NewResponse(w, c.Logger()))
					defer c.SetResponse(orig)
				}
				err = next(c)
			})).ServeHTTP(orig, c.Request())
			return err
		}
	}
}
