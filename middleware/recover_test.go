package middleware_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cypaykit/kit/middleware"
)

func TestRecoverAnswersFail(t *testing.T) {
	t.Parallel()
	logger, logs := logBuffer()
	h := middleware.Recover(middleware.RecoverConfig{Logger: logger})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			panic("fulfilment exploded")
		}))
	r := httptest.NewRequest(http.MethodPost, "/pay/notify?sign=ABC", strings.NewReader("total_fee=4&sign=ABC"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusInternalServerError || w.Body.String() != "fail" {
		t.Errorf("got %d %q, want 500 %q", w.Code, w.Body.String(), "fail")
	}
	if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
		t.Errorf("got Content-Type %q, want text/plain", got)
	}
	log := logs.String()
	for _, want := range []string{"fulfilment exploded", "/pay/notify", "stack"} {
		if !strings.Contains(log, want) {
			t.Errorf("log %q lacks %q", log, want)
		}
	}
	if strings.Contains(log, "ABC") || strings.Contains(log, "total_fee") {
		t.Errorf("log %q contains the query string or the body", log)
	}
}

func TestRecoverOmitStack(t *testing.T) {
	t.Parallel()
	logger, logs := logBuffer()
	h := middleware.Recover(middleware.RecoverConfig{Logger: logger, OmitStack: true})(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(errors.New("boom")) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if log := logs.String(); !strings.Contains(log, "boom") || strings.Contains(log, "stack") {
		t.Errorf("log %q: want the panic value without a stack", log)
	}
}

func TestRecoverAfterReplyStarted(t *testing.T) {
	t.Parallel()
	logger, logs := logBuffer()
	h := middleware.Recover(middleware.RecoverConfig{Logger: logger})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "success")
			panic("late")
		}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	if w.Code != http.StatusOK || w.Body.String() != "success" {
		t.Errorf("got %d %q, want the reply left as 200 %q", w.Code, w.Body.String(), "success")
	}
	if !strings.Contains(logs.String(), "late") {
		t.Errorf("log %q lacks the panic", logs.String())
	}
}

func TestRecoverRepanicsAbortHandler(t *testing.T) {
	t.Parallel()
	logger, logs := logBuffer()
	h := middleware.Recover(middleware.RecoverConfig{Logger: logger})(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler re-panicked", v)
		}
		if logs.Len() != 0 {
			t.Errorf("logged %q, want nothing", logs.String())
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}

func TestRecoverPassesThrough(t *testing.T) {
	t.Parallel()
	h := middleware.Recover(middleware.RecoverConfig{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "ok")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusCreated || w.Body.String() != "ok" {
		t.Errorf("got %d %q, want 201 %q", w.Code, w.Body.String(), "ok")
	}
}
