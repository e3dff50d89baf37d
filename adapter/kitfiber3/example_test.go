package kitfiber3_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gofiber/fiber/v3"

	"github.com/cypaykit/kit/adapter/kitfiber3"
	"github.com/cypaykit/kit/middleware"
)

// A kit handler that reads r.PathValue works under a Fiber route.
func ExampleHandler() {
	status := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "order "+r.PathValue("out_trade_no"))
	})
	app := fiber.New()
	app.Get("/pay/orders/:out_trade_no", kitfiber3.Handler(status))

	res, err := app.Test(httptest.NewRequest(http.MethodGet, "/pay/orders/SHOP0101", nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := io.ReadAll(res.Body)
	fmt.Println(string(b))
	// Output: order SHOP0101
}

// Kit middleware guards Fiber handlers: a rejected request stops the
// chain.
func ExampleMiddleware() {
	app := fiber.New()
	app.Post("/pay/notify", kitfiber3.Middleware(middleware.BodyLimit(16)), func(c fiber.Ctx) error {
		return c.SendString(fmt.Sprintf("read %d bytes", len(c.Request().Body())))
	})
	for _, body := range []string{"a=1", "a=12345678901234567890"} {
		res, err := app.Test(httptest.NewRequest(http.MethodPost, "/pay/notify", strings.NewReader(body)))
		if err != nil {
			fmt.Println(err)
			return
		}
		b, _ := io.ReadAll(res.Body)
		fmt.Println(res.StatusCode, string(b))
	}
	// Output:
	// 200 read 3 bytes
	// 413 request body too large
}
