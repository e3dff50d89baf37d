package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// RecoverConfig configures Recover. Every field documents its zero value.
type RecoverConfig struct {
	// Logger receives one error line per panic, with the panic value and
	// the stack; never the request body. Nil means slog.Default().
	Logger *slog.Logger
	// OmitStack leaves the goroutine's stack out of the log line. Zero
	// (false) logs it with the panic value.
	OmitStack bool
}

// Recover returns middleware that turns a panic in next into a logged
// error and a 500 reply with the literal body "fail", so the gateway
// treats the notification as undelivered and retries it. If next had
// already started its reply, the reply is left as it is (the status line
// cannot be taken back) and only the log line is written.
//
// http.ErrAbortHandler is re-panicked: it is net/http's way of aborting a
// reply on purpose, and the server handles it quietly.
func Recover(cfg RecoverConfig) func(http.Handler) http.Handler {
	log := orDefault(cfg.Logger)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &recorder{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				attrs := []slog.Attr{
					slog.String("panic", fmt.Sprint(v)),
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
				}
				if !cfg.OmitStack {
					attrs = append(attrs, slog.String("stack", string(debug.Stack())))
				}
				log.LogAttrs(r.Context(), slog.LevelError, "handler panicked", attrs...)
				if !rec.written() {
					writeFail(rec, http.StatusInternalServerError)
				}
			}()
			next.ServeHTTP(rec, r)
		})
	}
}
