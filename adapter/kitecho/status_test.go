package kitecho_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/cypaykit/kit/adapter/kitecho"
	"github.com/cypaykit/kit/middleware"
)

// TestLoggerSeesEchosOwnStatus: mounted with Use, the kit Logger logs the
// status echo's error handler answers after the chain has run — its 404
// for an unknown route, its 405, and an error a handler returned — not
// the 200 it would assume from a reply it never saw.
func TestLoggerSeesEchosOwnStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"unknown route", http.MethodGet, "/nope", http.StatusNotFound},
		{"wrong method", http.MethodPost, "/orders/X1", http.StatusMethodNotAllowed},
		{"a handler's echo error", http.MethodGet, "/teapot", http.StatusTeapot},
		{"a handler's plain error", http.MethodGet, "/broken", http.StatusInternalServerError},
		{"a handler's reply", http.MethodGet, "/orders/X1", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			e := echo.New()
			e.Use(kitecho.Middleware(middleware.Logger(slog.New(slog.NewJSONHandler(&logs, nil)))))
			e.GET("/orders/:out_trade_no", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
			e.GET("/teapot", func(c echo.Context) error { return echo.NewHTTPError(http.StatusTeapot) })
			e.GET("/broken", func(c echo.Context) error { return errors.New("broken") })
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
				t.Errorf("kit Logger logged %d, echo answered %d", line.Status, tc.want)
			}
		})
	}
}
