package handler

import "net/http"

// endNothing is the end function of an untraced stage; being one shared
// value, it costs no allocation.
var endNothing = func(error) {}

// traceRequest starts st for an HTTP request and returns the request
// carrying the stage's context.
func traceRequest(t Trace, r *http.Request, st Stage) (*http.Request, func(error)) {
	if t == nil {
		return r, endNothing
	}
	ctx, end := t(r.Context(), st)
	if ctx != r.Context() {
		// A hook that only measures keeps the context: no request copy.
		r = r.WithContext(ctx)
	}
	return r, end
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
