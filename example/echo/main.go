// Command echo mounts the kit's handlers on echo v4 through kitecho:
// Handler passes echo's ":out_trade_no" to r.PathValue, and Middleware
// runs a kit middleware in echo's chain, stopping it when the middleware
// answers.
//
//	go run ./example/echo
//	curl -XPOST localhost:8083/pay/preorder -H 'Content-Type: application/json' \
//	     -d '{"order_id":"1001","channel":"WECHAT","trade_type":"NATIVE"}'
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"

	"github.com/cypaykit/kit/adapter/kitecho"
	"github.com/cypaykit/kit/example/internal/wiring"
	"github.com/cypaykit/kit/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8083", "listen address")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	kit, err := wiring.New("http://"+*addr+"/pay/notify", logger)
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Sim.Close()
	go kit.Reconciler.Run(context.Background())
	log.Printf("echo: listening on http://%s (simulator at %s)", *addr, kit.Sim.URL)
	log.Fatal(http.ListenAndServe(*addr, router(kit, logger)))
}

// router is the part to copy: kit handlers and kit middleware on echo.
func router(kit *wiring.Kit, logger *slog.Logger) http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.Use(kitecho.Middleware(middleware.Logger(logger)))
	pay := e.Group("/pay")
	pay.POST("/preorder", kitecho.Handler(kit.PreOrder))
	// Recover answers "fail" if anything below panics, so the gateway
	// retries the notification instead of giving up.
	pay.POST("/notify", kitecho.Handler(kit.Notify), kitecho.Middleware(middleware.Recover(middleware.RecoverConfig{Logger: logger})))
	pay.GET("/orders/:out_trade_no", kitecho.Handler(kit.Status))
	pay.GET("/orders", kitecho.Handler(kit.Status)) // ?order_id= or ?out_trade_no=
	return e
}
