// Command gozero mounts the kit's handlers on a go-zero rest server.
// go-zero takes net/http handlers, but its generated handlers parse the
// request with httpx.Parse, which reads the body: the notification must
// never go through such a handler, or through anything else that reads
// or re-encodes the form before the kit verifies its sign. So the kit's
// handlers are added as raw rest.Routes, and its middleware with
// rest.ToMiddleware.
//
//	go run ./example/gozero
//	curl -XPOST localhost:8084/pay/preorder -H 'Content-Type: application/json' \
//	     -d '{"order_id":"1001","channel":"WECHAT","trade_type":"NATIVE"}'
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/rest"
	"github.com/zeromicro/go-zero/rest/pathvar"

	"github.com/cypaykit/kit/example/internal/wiring"
	"github.com/cypaykit/kit/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8084", "listen address")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	kit, err := wiring.New("http://"+*addr+"/pay/notify", logger)
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Sim.Close()
	srv, err := newServer(*addr, kit, logger)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	go kit.Reconciler.Run(context.Background())
	log.Printf("go-zero: listening on http://%s (simulator at %s)", *addr, kit.Sim.URL)
	srv.Start()
}

// newServer is the part to copy: a go-zero rest server with the kit's
// handlers as raw routes.
func newServer(addr string, kit *wiring.Kit, logger *slog.Logger) (*rest.Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var c rest.RestConf
	if err := conf.FillDefault(&c); err != nil { // go-zero's defaults, as from a YAML file
		return nil, err
	}
	c.Name, c.Host = "cypaykit-gozero", host
	if c.Port, err = strconv.Atoi(port); err != nil {
		return nil, err
	}
	srv, err := rest.NewServer(c)
	if err != nil {
		return nil, err
	}
	srv.Use(rest.ToMiddleware(middleware.Logger(logger)))
	srv.AddRoutes([]rest.Route{
		{Method: http.MethodPost, Path: "/pay/preorder", Handler: kit.PreOrder.ServeHTTP},
		// Recover answers "fail" if anything below panics, so the gateway
		// retries the notification instead of giving up.
		{Method: http.MethodPost, Path: "/pay/notify",
			Handler: middleware.Recover(middleware.RecoverConfig{Logger: logger})(kit.Notify).ServeHTTP},
		{Method: http.MethodGet, Path: "/pay/orders/:out_trade_no", Handler: pathValues(kit.Status)},
		// ?order_id= or ?out_trade_no=, for kits whose Status looks orders up by query.
		{Method: http.MethodGet, Path: "/pay/orders", Handler: kit.Status.ServeHTTP},
	})
	return srv, nil
}

// pathValues copies go-zero's path variables, which it keeps in the
// request context (pathvar.Vars), to r.PathValue, where the kit's Status
// handler reads out_trade_no.
func pathValues(h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if vars := pathvar.Vars(r); len(vars) > 0 {
			r = r.WithContext(r.Context()) // a shallow copy: go-zero may keep r
			for k, v := range vars {
				r.SetPathValue(k, v)
			}
		}
		h.ServeHTTP(w, r)
	}
}
