package kitgin_test

import (
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/middleware/kitgin"
)

// TestGatewayEndToEnd runs gin over real HTTP with the kit's handlers
// against the gateway simulator: pre-order, simulated payment, the
// simulator's notification through the kit middleware, and the status
// under /pay/orders/:out_trade_no.
func TestGatewayEndToEnd(t *testing.T) {
	t.Parallel()
	// The server's address is needed for notify_url before the routes exist.
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	k := handlertest.NewKit(t, base+"/pay/notify")

	e := gin.New()
	pay := e.Group("/pay", kitgin.Middleware(middleware.Recover(middleware.RecoverConfig{Logger: handlertest.Quiet()})))
	pay.POST("/preorder", kitgin.Handler(k.PreOrder))
	pay.POST("/notify", kitgin.Middleware(middleware.BodyLimit(64<<10)), kitgin.Handler(k.Notify))
	pay.GET("/orders/:out_trade_no", kitgin.Handler(k.Status))
	srv.Config.Handler = e
	srv.Start()
	t.Cleanup(srv.Close)

	k.CheckPayment(t, base)
}
