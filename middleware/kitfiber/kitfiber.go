package kitfiber

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/cypaykit/kit/internal/bridge"
)

// Handler returns a fiber.Handler that serves h. The request h sees
// carries c.UserContext() (so values a kit Middleware put there reach
// it), Fiber's route parameters through r.PathValue, and a copy of the
// raw body exactly as the client sent it: not c.Body(), which decodes a
// Content-Encoding, and never a re-encoded form, so a notification's sign
// verifies. Path values are unescaped as net/http's own PathValue is
// (Fiber matches on the escaped path unless Config.UnescapePath is set)
// and copied, so h may keep them after the request. Fiber names a
// wildcard "*1" ("+1" for "+"). h's reply is buffered into c.Response(),
// which Fiber sends when the chain returns.
func Handler(h http.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		r, err := request(c)
		if err != nil {
			return err
		}
		if names := c.Route().Params; len(names) > 0 {
			escaped := !c.App().Config().UnescapePath
			for _, name := range names {
				r.SetPathValue(name, bridge.PathValue(c.Params(name), escaped))
			}
		}
		h.ServeHTTP(bridge.NewWriter(response{c.Response()}), r)
		return nil
	}
}

// Middleware returns a fiber.Handler that runs mw. When mw calls its next
// handler, the rest of Fiber's chain runs (c.Next) with the context of
// the request mw passed on set as c.UserContext(), so values mw put there
// (the verified notification, say) reach Fiber handlers. When mw does not
// call next (it rejected the request and answered it), no later handler
// runs and the reply is mw's. An error from the chain is returned to
// Fiber's error handler.
//
// If mw wraps the http.ResponseWriter (to record the status, say), the
// status and body the later Fiber handlers answered are replayed through
// the wrapper once they return without error, so mw sees them.
func Middleware(mw func(http.Handler) http.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		r, err := request(c)
		if err != nil {
			return err
		}
		var chainErr error
		bridge.Run(mw, bridge.NewWriter(response{c.Response()}), r, func(r *http.Request) bool {
			c.SetUserContext(r.Context())
			chainErr = c.Next()
			return chainErr == nil
		})
		return chainErr
	}
}

// request converts c's request. The raw body is used: c.Body() would
// decode a Content-Encoding, and the sign covers the bytes as sent.
func request(c *fiber.Ctx) (*http.Request, error) {
	fr := c.Request()
	r, err := bridge.NewRequest(c.UserContext(), bridge.Request{
		Method:       string(fr.Header.Method()),
		RequestURI:   string(fr.Header.RequestURI()),
		Host:         string(fr.Host()),
		RemoteAddr:   c.Context().RemoteAddr().String(),
		Proto:        string(fr.Header.Protocol()),
		Body:         fr.Body(),
		VisitHeaders: fr.Header.VisitAll,
		RawHeaders:   fr.Header.RawHeaders(),
	})
	if err != nil {
		return nil, fiber.NewError(http.StatusBadRequest, "fail")
	}
	return r, nil
}

// response exposes a fasthttp response to the bridge.
type response struct{ r *fasthttp.Response }

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
