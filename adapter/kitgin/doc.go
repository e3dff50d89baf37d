// Package kitgin mounts the kit's net/http handlers and middleware in gin:
// Handler copies gin's path parameters to r.PathValue, and Middleware runs
// a func(http.Handler) http.Handler as a gin.HandlerFunc that stops gin's
// chain when the middleware rejects the request.
package kitgin
