package kitecho

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// Handler returns an echo.HandlerFunc that serves h. echo's path parameters
// are copied to the request with SetPathValue, so a kit handler that reads
// r.PathValue("out_trade_no") works under the echo route
// "/orders/:out_trade_no". Values are unescaped as net/http's own
// PathValue is: echo routes on the escaped path, and so hands out escaped
// values, whenever the URL needs its raw form (an encoded slash, "%2F").
// The catch-all parameter is named "*".
func Handler(h http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if names := c.ParamNames(); len(names) > 0 {
			values := c.ParamValues()
			raw := r.URL.RawPath != ""
			r = r.WithContext(r.Context()) // a shallow copy: echo keeps c.Request()
			for i, name := range names {
				if i >= len(values) {
					break
				}
				v := values[i]
				if raw {
					if u, err := url.PathUnescape(v); err == nil {
						v = u
					}
				}
				r.SetPathValue(name, v)
			}
		}
		h.ServeHTTP(c.Response(), r)
		return nil
	}
}

// Middleware returns an echo.MiddlewareFunc that runs mw. When mw calls its
// next handler, the rest of echo's chain runs with the request mw passed
// on (so values mw put in the context reach echo handlers through
// c.Request()) and with mw's http.ResponseWriter, so a wrapping middleware
// such as the kit Logger sees what they write, including the reply echo's
// HTTPErrorHandler writes for an error the chain returns (its 404 for an
// unknown route when Middleware is mounted with Use); the error is still
// returned, so a custom HTTPErrorHandler must skip a committed response,
// as echo's own does. When mw does not call next
// (it rejected the request and answered it), no later handler runs and the
// reply is mw's.
func Middleware(mw func(http.Handler) http.Handler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			var err error
			orig := c.Response()
			mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				if w != http.ResponseWriter(orig) {
					// A fresh echo.Response over mw's writer, which itself
					// writes to orig: no cycle, and echo's own bookkeeping
					// (Committed, Status, Size) stays right on both.
					c.SetResponse(echo.NewResponse(w, c.Echo()))
					defer c.SetResponse(orig)
				}
				err = next(c)
				if err != nil && w != http.ResponseWriter(orig) {
					// echo writes an error's reply (its 404, 405, or a
					// handler's error) only after the chain returns, past
					// mw: have its error handler write it here, through
					// mw's writer, so that mw sees the status the client
					// gets. echo's handler skips the committed reply when
					// the error comes back to it, as for its own Logger.
					c.Error(err)
				}
			})).ServeHTTP(orig, c.Request())
			return err
		}
	}
}
