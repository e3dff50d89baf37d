package middleware_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cypaykit/kit/middleware"
)

func TestBodyLimitPanicsOnBadLimit(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{0, -1} {
		t.Run("", func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("BodyLimit(%d) did not panic", n)
				}
			}()
			middleware.BodyLimit(n)
		})
	}
}

// readAll is a handler that reads the body and reports what it got.
func readAll(got *string, gotErr *error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		*got, *gotErr = string(b), err
		if err == nil {
			io.WriteString(w, "read "+string(b))
		}
	})
}

func TestBodyLimitUnderLimit(t *testing.T) {
	t.Parallel()
	var got string
	var err error
	h := middleware.BodyLimit(5)(readAll(&got, &err))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("12345")))
	if err != nil || got != "12345" {
		t.Errorf("handler read (%q, %v), want (%q, nil)", got, err, "12345")
	}
	if w.Code != http.StatusOK || w.Body.String() != "read 12345" {
		t.Errorf("got %d %q, want 200 %q", w.Code, w.Body.String(), "read 12345")
	}
}

func TestBodyLimitContentLengthOver(t *testing.T) {
	t.Parallel()
	reached := false
	h := middleware.BodyLimit(5)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("123456")))
	if reached {
		t.Error("next ran, want it skipped")
	}
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("got status %d, want 413", w.Code)
	}
}

func TestBodyLimitUnknownLengthOver(t *testing.T) {
	t.Parallel()
	var got string
	var err error
	h := middleware.BodyLimit(5)(readAll(&got, &err))
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Body = io.NopCloser(iotest.HalfReader(strings.NewReader("123456789")))
	r.ContentLength = -1 // chunked
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var tooLarge *http.MaxBytesError
	if !errors.As(err, &tooLarge) {
		t.Errorf("handler's read error %v, want *http.MaxBytesError", err)
	}
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("got status %d, want 413", w.Code)
	}
}

func TestBodyLimitKeepsHandlersReply(t *testing.T) {
	t.Parallel()
	h := middleware.BodyLimit(5)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "fail")
		}
	}))
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Body = io.NopCloser(strings.NewReader("123456789"))
	r.ContentLength = -1
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest || w.Body.String() != "fail" {
		t.Errorf("got %d %q, want the handler's 400 %q", w.Code, w.Body.String(), "fail")
	}
}

func TestBodyLimitOverRealServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(middleware.BodyLimit(1024)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})))
	t.Cleanup(srv.Close)
	res, err := http.Post(srv.URL, "text/plain", strings.NewReader(strings.Repeat("x", 4096)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("got status %d, want 413", res.StatusCode)
	}
}
