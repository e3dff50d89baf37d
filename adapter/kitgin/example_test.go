package kitgin_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/cypaykit/kit/adapter/kitgin"
	"github.com/cypaykit/kit/middleware"
)

// A kit handler that reads r.PathValue works under a gin route.
func ExampleHandler() {
	status := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "order "+r.PathValue("out_trade_no"))
	})
	e := gin.New()
	e.GET("/pay/orders/:out_trade_no", kitgin.Handler(status))

	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/pay/orders/SHOP0101", nil))
	fmt.Println(w.Body.String())
	// Output: order SHOP0101
}

// Kit middleware guards gin handlers: a rejected request stops the chain.
func ExampleMiddleware() {
	e := gin.New()
	e.POST("/pay/notify",
		kitgin.Middleware(middleware.BodyLimit(16)),
		func(c *gin.Context) {
			b, err := io.ReadAll(c.Request.Body)
			if err != nil {
				c.String(http.StatusBadRequest, "fail")
				return
			}
			c.String(http.StatusOK, "read %d bytes", len(b))
		})

	for _, body := range []string{"a=1", "a=12345678901234567890"} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/pay/notify", strings.NewReader(body)))
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 read 3 bytes
	// 413 request body too large
}
