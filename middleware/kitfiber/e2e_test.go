package kitfiber_test

import (
	"testing"

	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/middleware/kitfiber"
)

// TestGatewayEndToEnd runs Fiber's own server (fasthttp) over real HTTP with the
// kit's handlers against the gateway simulator: pre-order, simulated
// payment, the simulator's notification through kit middleware, and the
// status under /pay/orders/:out_trade_no.
func TestGatewayEndToEnd(t *testing.T) {
	t.Parallel()
	app, base, start := newFiber(t)
	k := handlertest.NewKit(t, base+"/pay/notify")
	pay := app.Group("/pay", kitfiber.Middleware(middleware.Recover(middleware.RecoverConfig{Logger: handlertest.Quiet()})))
	pay.Post("/preorder", kitfiber.Handler(k.PreOrder))
	pay.Post("/notify", kitfiber.Middleware(middleware.BodyLimit(64<<10)), kitfiber.Handler(k.Notify))
	pay.Get("/orders/:out_trade_no", kitfiber.Handler(k.Status))
	start()

	k.CheckPayment(t, base)
}
