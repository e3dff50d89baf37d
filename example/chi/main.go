// Command chi mounts the kit's handlers on a chi v5 router. chi takes
// net/http handlers and func(http.Handler) http.Handler middleware as they
// are, and sets r.PathValue from its URL parameters, so no adapter is
// needed.
//
//	go run ./example/chi
//	curl -XPOST localhost:8081/pay/preorder -H 'Content-Type: application/json' \
//	     -d '{"order_id":"1001","channel":"WECHAT","trade_type":"NATIVE"}'
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"

	"github.com/cypaykit/kit/example/internal/wiring"
	"github.com/cypaykit/kit/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	kit, err := wiring.New("http://"+*addr+"/pay/notify", logger)
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Sim.Close()
	go kit.Reconciler.Run(context.Background())
	log.Printf("chi: listening on http://%s (simulator at %s)", *addr, kit.Sim.URL)
	log.Fatal(http.ListenAndServe(*addr, router(kit, logger)))
}

// router is the part to copy: kit handlers and kit middleware on chi.
func router(kit *wiring.Kit, logger *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Logger(logger))
	r.Route("/pay", func(r chi.Router) {
		r.Post("/preorder", kit.PreOrder.ServeHTTP)
		// Recover answers "fail" if anything below panics, so the gateway
		// retries the notification instead of giving up.
		r.With(middleware.Recover(middleware.RecoverConfig{Logger: logger})).
			Post("/notify", kit.Notify.ServeHTTP)
		r.Get("/orders/{out_trade_no}", kit.Status.ServeHTTP)
		r.Get("/orders", kit.Status.ServeHTTP) // ?order_id= or ?out_trade_no=
	})
	return r
}
