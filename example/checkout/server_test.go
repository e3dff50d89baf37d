package main

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
)

// TestServerBoundsConnections: the shop's server bounds every phase of a
// connection (a slow body, a slow reader, an idle keep-alive, huge
// headers), the settings docs/production.md asks hosts for.
func TestServerBoundsConnections(t *testing.T) {
	srv := newServer(http.NotFoundHandler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for name, d := range map[string]int64{
		"ReadHeaderTimeout": int64(srv.ReadHeaderTimeout),
		"ReadTimeout":       int64(srv.ReadTimeout),
		"WriteTimeout":      int64(srv.WriteTimeout),
		"IdleTimeout":       int64(srv.IdleTimeout),
		"MaxHeaderBytes":    int64(srv.MaxHeaderBytes),
	} {
		if d <= 0 {
			t.Errorf("%s: got %d, want a bound", name, d)
		}
	}
}
