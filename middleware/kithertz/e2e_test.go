package kithertz_test

import (
	"testing"

	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/middleware/kithertz"
)

// TestGatewayEndToEnd runs Hertz's own server over real HTTP with the
// kit's handlers against the gateway simulator: pre-order, simulated
// payment, the simulator's notification through kit middleware, and the
// status under /pay/orders/:out_trade_no.
func TestGatewayEndToEnd(t *testing.T) {
	t.Parallel()
	h, base, start := newHertz(t)
	k := handlertest.NewKit(t, base+"/pay/notify")
	pay := h.Group("/pay", kithertz.Middleware(middleware.Recover(middleware.RecoverConfig{Logger: handlertest.Quiet()})))
	pay.POST("/preorder", kithertz.Handler(k.PreOrder))
	pay.POST("/notify", kithertz.Middleware(middleware.BodyLimit(64<<10)), kithertz.Handler(k.Notify))
	pay.GET("/orders/:out_trade_no", kithertz.Handler(k.Status))
	start()

	k.CheckPayment(t, base)
}
