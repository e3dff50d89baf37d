package middleware

import (
	"log/slog"
	"net/http"
	"time"
)

// Logger returns middleware that writes one line per request to l (nil
// means slog.Default()): method, path, status, bytes written, duration and
// the connection's remote address. It logs r.URL.Path only, never the
// query string, the headers or any body, so neither signatures, keys nor
// buyer data reach the log. Replies with a 5xx status are logged at error
// level, the rest at info. Mount it outside Recover so that a panic is
// logged as the 500 it becomes.
func Logger(l *slog.Logger) func(http.Handler) http.Handler {
	log := orDefault(l)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &recorder{ResponseWriter: w}
			// No defer: a request that panics through here is not logged
			// with a made-up status; Recover (mounted inside) logs it.
			next.ServeHTTP(rec, r)
			status := rec.status
			if status == 0 {
				status = http.StatusOK // what net/http sends for an empty reply
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote", r.RemoteAddr))
		})
	}
}
