package kithertz_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/common/config"
	"github.com/cloudwego/hertz/pkg/common/ut"
	"github.com/cloudwego/hertz/pkg/route"

	"github.com/cypaykit/kit/adapter/kithertz"
	"github.com/cypaykit/kit/middleware"
)

// A kit handler that reads r.PathValue works under a Hertz route.
func ExampleHandler() {
	status := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "order "+r.PathValue("out_trade_no"))
	})
	h := route.NewEngine(config.NewOptions(nil))
	h.GET("/pay/orders/:out_trade_no", kithertz.Handler(status))

	w := ut.PerformRequest(h, http.MethodGet, "/pay/orders/SHOP0101", nil)
	fmt.Println(string(w.Body.Bytes()))
	// Output: order SHOP0101
}

// Kit middleware guards Hertz handlers: a rejected request stops the
// chain.
func ExampleMiddleware() {
	h := route.NewEngine(config.NewOptions(nil))
	h.POST("/pay/notify", kithertz.Middleware(middleware.BodyLimit(16)), func(ctx context.Context, c *app.RequestContext) {
		c.String(http.StatusOK, fmt.Sprintf("read %d bytes", len(c.Request.Body())))
	})
	for _, body := range []string{"a=1", "a=12345678901234567890"} {
		w := ut.PerformRequest(h, http.MethodPost, "/pay/notify", &ut.Body{Body: strings.NewReader(body), Len: len(body)})
		fmt.Println(w.Code, string(w.Body.Bytes()))
	}
	// Output:
	// 200 read 3 bytes
	// 413 request body too large
}
