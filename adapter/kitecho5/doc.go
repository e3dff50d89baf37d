// Package kitecho5 mounts the kit's net/http handlers and middleware in
// echo v5: Handler copies echo's path parameters to r.PathValue, and
// Middleware runs a func(http.Handler) http.Handler as an
// echo.MiddlewareFunc whose chain stops when the middleware rejects the
// request. kitecho is the same for echo v4.
package kitecho5
