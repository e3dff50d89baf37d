package kitecho5_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/cypaykit/kit/adapter/kitecho5"
	"github.com/cypaykit/kit/middleware"
)

// A kit handler that reads r.PathValue works under an echo route.
func ExampleHandler() {
	status := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "order "+r.PathValue("out_trade_no"))
	})
	e := echo.New()
	e.GET("/pay/orders/:out_trade_no", kitecho5.Handler(status))

	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/pay/orders/SHOP0101", nil))
	fmt.Println(w.Body.String())
	// Output: order SHOP0101
}

// Kit middleware guards echo handlers: a rejected request stops the chain.
func ExampleMiddleware() {
	e := echo.New()
	e.POST("/pay/notify", func(c *echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return c.String(http.StatusBadRequest, "fail")
		}
		return c.String(http.StatusOK, fmt.Sprintf("read %d bytes", len(b)))
	}, kitecho5.Middleware(middleware.BodyLimit(16)))

	for _, body := range []string{"a=1", "a=12345678901234567890"} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/pay/notify", strings.NewReader(body)))
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 read 3 bytes
	// 413 request body too large
}
