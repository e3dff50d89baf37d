package middleware

import (
	"log/slog"
	"net/http"
	"strconv"
)

// failBody is the gateway's literal "do not count this as delivered"
// reply: anything but "success" makes it retry.
const failBody = "fail"

// writeFail answers the gateway's literal fail with status.
func writeFail(w http.ResponseWriter, status int) {
	writeText(w, status, failBody)
}

// writeText writes body as text/plain with an exact Content-Length, so the
// reply carries no trailing newline (http.Error would add one).
func writeText(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// orDefault returns l, or slog.Default() when l is nil.
func orDefault(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
