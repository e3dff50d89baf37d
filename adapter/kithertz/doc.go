// Package kithertz mounts the kit's net/http handlers and middleware in
// CloudWeGo Hertz, which is not net/http: Handler runs a kit http.Handler
// (Hertz's path parameters reach r.PathValue, the body reaches the kit
// byte for byte), and Middleware runs a func(http.Handler) http.Handler
// as an app.HandlerFunc that stops Hertz's chain when the middleware
// rejects the request.
package kithertz
