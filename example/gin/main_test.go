package main

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cypaykit/kit/example/internal/wiring"
	"github.com/cypaykit/kit/example/internal/wiring/wiringtest"
)

// TestGinRouter pays an order through the gin router: pre-order, the
// simulator's notification, and the status under /orders/:out_trade_no.
func TestGinRouter(t *testing.T) {
	gin.SetMode(gin.TestMode)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	base, kit := wiringtest.Serve(t, func(k *wiring.Kit) http.Handler { return router(k, logger) })
	wiringtest.CheckFlow(t, base, kit)
}
