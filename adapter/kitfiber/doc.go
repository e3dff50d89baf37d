// Package kitfiber mounts the kit's net/http handlers and middleware in
// Fiber v2, which runs on fasthttp rather than net/http: Handler runs a
// kit http.Handler (Fiber's route parameters reach r.PathValue, the body
// reaches the kit byte for byte), and Middleware runs a
// func(http.Handler) http.Handler as a fiber.Handler that stops Fiber's
// chain when the middleware rejects the request.
package kitfiber
