// Package kitfiber3 mounts the kit's net/http handlers and middleware in
// Fiber v3, which runs on fasthttp rather than net/http: Handler runs a
// kit http.Handler (Fiber's route parameters reach r.PathValue, the body
// reaches the kit byte for byte), and Middleware runs a
// func(http.Handler) http.Handler as a fiber.Handler that stops Fiber's
// chain when the middleware rejects the request. kitfiber is the same
// for Fiber v2.
package kitfiber3
