package formpost_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/internal/formpost"
)

// slowPost opens a connection to srv and sends a form POST's headers and
// the first byte of a body that never completes.
func slowPost(t testing.TB, srv *httptest.Server, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 100\r\n\r\na", path, formpost.ContentType)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReadByCutsOffSlowBody: on a real server connection the read
// deadline fails the read with ErrTimeout (408) and the server closes the
// connection.
func TestReadByCutsOffSlowBody(t *testing.T) {
	t.Parallel()
	got := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _, status, err := formpost.ReadBy(w, r, 1<<10, time.Now().Add(100*time.Millisecond))
		got <- err
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	c := slowPost(t, srv, "/")
	select {
	case err := <-got:
		if !errors.Is(err, formpost.ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the body read was not cut off within 30s")
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status: got %d, want 408", resp.StatusCode)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("after the reply: got %v, want the connection closed", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestReadByFallback: a ResponseWriter that cannot set a read deadline
// (here httptest's recorder) still gets the read cut off.
func TestReadByFallback(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	go func() { _, _ = pw.Write([]byte("a=1")) }() // then nothing more
	r := httptest.NewRequest(http.MethodPost, "/", pr)
	r.Header.Set("Content-Type", formpost.ContentType)
	w := httptest.NewRecorder()
	done := make(chan error, 1)
	go func() {
		_, _, status, err := formpost.ReadBy(w, r, 1<<10, time.Now().Add(100*time.Millisecond))
		if err == nil || status != http.StatusRequestTimeout {
			err = fmt.Errorf("status %d, err %w", status, err)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, formpost.ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout with 408", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the body read was not cut off within 30s")
	}
	if _, ok := r.Body.(*io.PipeReader); !ok {
		t.Errorf("r.Body is %T after ReadBy, want the original body back", r.Body)
	}
}

// TestReadByRefusalsNeedNoBody: a GET is refused as by Read, deadline
// or not.
func TestReadByRefusalsNeedNoBody(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	_, _, status, err := formpost.ReadBy(httptest.NewRecorder(), r, 1<<10, time.Now().Add(-time.Second))
	if status != http.StatusMethodNotAllowed || !errors.Is(err, formpost.ErrMethod) {
		t.Errorf("got %d %v, want 405 ErrMethod", status, err)
	}
}

// hiddenWriter hides the server's ResponseWriter the way some framework
// writers do (no Unwrap), so no read deadline can be set through it.
type hiddenWriter struct{ http.ResponseWriter }

// TestReadByFallbackRepliesOnRealServer: with no read deadline to set,
// the cut-off read still gets its reply out at once and the connection
// closed, instead of net/http draining the slow body before replying.
func TestReadByFallbackRepliesOnRealServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := hiddenWriter{w}
		_, _, status, _ := formpost.ReadBy(hw, r, 1<<10, time.Now().Add(100*time.Millisecond))
		hw.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	c := slowPost(t, srv, "/")
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Errorf("got %d close=%v, want 408 with the connection closing", resp.StatusCode, resp.Close)
	}
}

// TestReadByFallbackLimits: reading through the fallback keeps Read's
// answers: a whole body parses, one byte over the limit is 413.
func TestReadByFallbackLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body       string
		wantStatus int
	}{
		{"a=1234", 0},
		{"a=12345", http.StatusRequestEntityTooLarge},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader(tc.body)))
		r.Header.Set("Content-Type", formpost.ContentType)
		_, v, status, err := formpost.ReadBy(httptest.NewRecorder(), r, 6, time.Now().Add(time.Minute))
		if status != tc.wantStatus || (tc.wantStatus == 0 && (err != nil || v.Get("a") != "1234")) {
			t.Errorf("%q: got %d %v %v, want %d", tc.body, status, v, err, tc.wantStatus)
		}
	}
}
