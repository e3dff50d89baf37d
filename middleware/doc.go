// Package middleware holds net/http middleware for the routes that face the
// UnifiedPay (超赢) gateway: notification signature verification, a body
// limit, a gateway source allow-list, panic recovery that answers "fail" and
// request logging that never records bodies or keys.
//
// Every middleware has the shape func(http.Handler) http.Handler, so it
// mounts as is in net/http and chi; the modules under adapter/ (kitgin,
// kitecho, kitecho5, kithertz, kitfiber, kitfiber3) adapt it to other
// frameworks. Constructors that take a
// config validate it once and return an error.
package middleware
