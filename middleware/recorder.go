package middleware

import "net/http"

// recorder remembers the status and size of a reply for Logger and
// Recover. It keeps Flush and exposes Unwrap so http.ResponseController
// still reaches the server's writer (Hijack, deadlines).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(p []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(p)
	rw.bytes += int64(n)
	return n, err
}

// Flush sends buffered data when the underlying writer can.
func (rw *recorder) Flush() {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer for http.ResponseController.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// written reports whether the reply's status line has gone out.
func (rw *recorder) written() bool { return rw.status != 0 }
