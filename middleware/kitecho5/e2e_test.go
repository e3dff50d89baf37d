package kitecho5_test

import (
	"net/http/httptest"
	"testing"

	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/middleware/kitecho5"
)

// TestGatewayEndToEnd runs echo over real HTTP with the kit's handlers
// against the gateway simulator: pre-order, simulated payment, the
// simulator's notification through the kit middleware, and the status
// under /pay/orders/:out_trade_no.
func TestGatewayEndToEnd(t *testing.T) {
	t.Parallel()
	// The server's address is needed for notify_url before the routes exist.
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	k := handlertest.NewKit(t, base+"/pay/notify")

	e := newEcho()
	pay := e.Group("/pay", kitecho5.Middleware(middleware.Recover(middleware.RecoverConfig{Logger: handlertest.Quiet()})))
	pay.POST("/preorder", kitecho5.Handler(k.PreOrder))
	pay.POST("/notify", kitecho5.Handler(k.Notify), kitecho5.Middleware(middleware.BodyLimit(64<<10)))
	pay.GET("/orders/:out_trade_no", kitecho5.Handler(k.Status))
	srv.Config.Handler = e
	srv.Start()
	t.Cleanup(srv.Close)

	k.CheckPayment(t, base)
}
