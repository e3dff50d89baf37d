// Command kratos mounts the kit's handlers on a Kratos v2 HTTP server.
// Kratos' transport/http server takes net/http handlers (Handle,
// HandlePrefix) and net/http middleware as filters, so no adapter is
// needed: the kit's routes go in a net/http ServeMux (which sets
// r.PathValue) mounted under /pay/. Kratos' own handlers decode the body
// with its codecs; the notification must never go through one, or its
// sign would be checked over re-encoded bytes.
//
//	go run ./example/kratos
//	curl -XPOST localhost:8085/pay/preorder -H 'Content-Type: application/json' \
//	     -d '{"order_id":"1001","channel":"WECHAT","trade_type":"NATIVE"}'
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/go-kratos/kratos/v2"
	khttp "github.com/go-kratos/kratos/v2/transport/http"

	"github.com/cypaykit/kit/example/internal/wiring"
	"github.com/cypaykit/kit/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8085", "listen address")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	kit, err := wiring.New("http://"+*addr+"/pay/notify", logger)
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Sim.Close()
	go kit.Reconciler.Run(context.Background())
	log.Printf("kratos: listening on http://%s (simulator at %s)", *addr, kit.Sim.URL)
	app := kratos.New(kratos.Name("cypaykit-kratos"), kratos.Server(newServer(kit, logger, khttp.Address(*addr))))
	if err := app.Run(); err != nil {
		log.Fatal(err)
	}
}

// newServer is the part to copy: a Kratos HTTP server with the kit's
// handlers under /pay/ and the kit Logger as a filter.
func newServer(kit *wiring.Kit, logger *slog.Logger, opts ...khttp.ServerOption) *khttp.Server {
	opts = append([]khttp.ServerOption{
		khttp.Filter(middleware.Logger(logger)),
		// Kratos cancels a request's context after 1 s by default; the
		// gateway waits 3 s for a notification's answer, so let the
		// settlement have that long rather than fail it early.
		khttp.Timeout(3 * time.Second),
	}, opts...)
	srv := khttp.NewServer(opts...)
	pay := http.NewServeMux()
	pay.Handle("POST /pay/preorder", kit.PreOrder)
	// Recover answers "fail" if anything below panics, so the gateway
	// retries the notification instead of giving up.
	pay.Handle("POST /pay/notify", middleware.Recover(middleware.RecoverConfig{Logger: logger})(kit.Notify))
	pay.Handle("GET /pay/orders/{out_trade_no}", kit.Status)
	pay.Handle("GET /pay/orders", kit.Status) // ?order_id= or ?out_trade_no=
	srv.HandlePrefix("/pay/", pay)
	return srv
}
