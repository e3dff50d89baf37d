// Command gin mounts the kit's handlers on gin through kitgin: Handler
// passes gin's ":out_trade_no" to r.PathValue, and Middleware runs a kit
// middleware in gin's chain, aborting it when the middleware answers.
//
//	go run ./example/gin
//	curl -XPOST localhost:8082/pay/preorder -H 'Content-Type: application/json' \
//	     -d '{"order_id":"1001","channel":"WECHAT","trade_type":"NATIVE"}'
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"

	"github.com/cypaykit/kit/adapter/kitgin"
	"github.com/cypaykit/kit/example/internal/wiring"
	"github.com/cypaykit/kit/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "listen address")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	kit, err := wiring.New("http://"+*addr+"/pay/notify", logger)
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Sim.Close()
	go kit.Reconciler.Run(context.Background())
	gin.SetMode(gin.ReleaseMode)
	log.Printf("gin: listening on http://%s (simulator at %s)", *addr, kit.Sim.URL)
	log.Fatal(http.ListenAndServe(*addr, router(kit, logger)))
}

// router is the part to copy: kit handlers and kit middleware on gin.
func router(kit *wiring.Kit, logger *slog.Logger) http.Handler {
	// snippet:begin router
	r := gin.New()
	r.Use(kitgin.Middleware(middleware.Logger(logger)))
	pay := r.Group("/pay")
	pay.POST("/preorder", kitgin.Handler(kit.PreOrder))
	// Recover answers "fail" if anything below panics, so the gateway
	// retries the notification instead of giving up.
	pay.POST("/notify", kitgin.Middleware(middleware.Recover(middleware.RecoverConfig{Logger: logger})), kitgin.Handler(kit.Notify))
	pay.GET("/orders/:out_trade_no", kitgin.Handler(kit.Status))
	pay.GET("/orders", kitgin.Handler(kit.Status)) // ?order_id= or ?out_trade_no=
	// snippet:end router
	return r
}
