package kitgin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cypaykit/kit/adapter/kitgin"
	"github.com/cypaykit/kit/middleware"
)

// TestLoggerSeesGinsOwnStatus: mounted with Use, the kit Logger logs the
// status gin itself answers after the chain has run — its 404 for an
// unknown route, its 405, and a status a handler only set with c.Status —
// not the 200 it would assume from a reply it never saw.
func TestLoggerSeesGinsOwnStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"unknown route", http.MethodGet, "/nope", http.StatusNotFound},
		{"wrong method", http.MethodPost, "/orders/X1", http.StatusMethodNotAllowed},
		{"status without a body", http.MethodGet, "/empty", http.StatusNoContent},
		{"a handler's reply", http.MethodGet, "/orders/X1", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			e := gin.New()
			e.HandleMethodNotAllowed = true
			e.Use(kitgin.Middleware(middleware.Logger(slog.New(slog.NewJSONHandler(&logs, nil)))))
			e.GET("/orders/:out_trade_no", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
			e.GET("/empty", func(c *gin.Context) { c.Status(http.StatusNoContent) })
			req, err := http.NewRequest(tc.method, serve(t, e)+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("reply: got %d, want %d", res.StatusCode, tc.want)
			}
			var line struct {
				Status int `json:"status"`
			}
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log %q: %v", logs.String(), err)
			}
			if line.Status != tc.want {
				t.Errorf("kit Logger logged %d, gin answered %d", line.Status, tc.want)
			}
		})
	}
}
