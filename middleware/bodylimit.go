package middleware

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// BodyLimit returns middleware that caps request bodies at n bytes.
//
// A request whose Content-Length already exceeds n is answered 413 without
// running next. Otherwise r.Body is wrapped in http.MaxBytesReader: a read
// past n fails with *http.MaxBytesError and the server closes the
// connection after the reply. If next then returns without having written
// anything, BodyLimit answers 413; if next answered on its own (a
// notification handler replies "fail"), its reply stands.
//
// BodyLimit panics if n is not positive: that is a programming error, not
// a request-time condition.
func BodyLimit(n int64) func(http.Handler) http.Handler {
	if n <= 0 {
		panic(fmt.Sprintf("middleware: BodyLimit(%d): limit must be positive", n))
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				w.Header().Set("Connection", "close")
				writeText(w, http.StatusRequestEntityTooLarge, "request body too large")
				return
			}
			if r.Body == nil || r.Body == http.NoBody {
				next.ServeHTTP(w, r)
				return
			}
			rec := &recorder{ResponseWriter: w}
			body := &limitedBody{ReadCloser: http.MaxBytesReader(rec, r.Body, n)}
			r2 := r.WithContext(r.Context()) // a shallow copy: next may keep r
			r2.Body = body
			next.ServeHTTP(rec, r2)
			if body.exceeded && !rec.written() {
				writeText(rec, http.StatusRequestEntityTooLarge, "request body too large")
			}
		})
	}
}

// limitedBody notes whether the MaxBytesReader it wraps hit its limit.
type limitedBody struct {
	io.ReadCloser
	exceeded bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if err != nil && errors.As(err, &tooLarge) {
		b.exceeded = true
	}
	return n, err
}
