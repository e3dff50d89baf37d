package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// fakeResponse is a framework response in memory.
type fakeResponse struct {
	status int
	header http.Header
	body   []byte
}

func newFake() *fakeResponse { return &fakeResponse{status: http.StatusOK, header: http.Header{}} }

func (f *fakeResponse) Status() int         { return f.status }
func (f *fakeResponse) SetStatus(code int)  { f.status = code }
func (f *fakeResponse) Body() []byte        { return f.body }
func (f *fakeResponse) ResetBody()          { f.body = f.body[:0] }
func (f *fakeResponse) AppendBody(p []byte) { f.body = append(f.body, p...) }
func (f *fakeResponse) SetHeader(name string, values []string) {
	f.header[name] = append([]string(nil), values...)
}

func TestNewRequestCopiesBody(t *testing.T) {
	t.Parallel()
	raw := []byte("a=1%2B2&b=x+y")
	want := string(raw)
	r, err := NewRequest(context.Background(), Request{
		Method: "POST", RequestURI: "/pay/notify?x=1", Host: "shop", Body: raw,
		VisitHeaders: func(fn func(k, v []byte)) {
			fn([]byte("Content-Type"), []byte("application/x-www-form-urlencoded"))
			fn([]byte("X-Two"), []byte("a"))
			fn([]byte("X-Two"), []byte("b"))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	copy(raw, "XXXXXXXX") // the framework reuses its buffer
	got, _ := io.ReadAll(r.Body)
	if string(got) != want || r.ContentLength != int64(len(want)) {
		t.Errorf("body %q (ContentLength %d), want %q (%d)", got, r.ContentLength, want, len(want))
	}
	if r.URL.Path != "/pay/notify" || r.URL.RawQuery != "x=1" || r.Host != "shop" || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		t.Errorf("got path %q query %q host %q proto %d.%d", r.URL.Path, r.URL.RawQuery, r.Host, r.ProtoMajor, r.ProtoMinor)
	}
	if v := r.Header.Values("X-Two"); len(v) != 2 || r.Header.Get("Content-Type") == "" {
		t.Errorf("headers %v", r.Header)
	}
}

func TestNewRequestEmptyBody(t *testing.T) {
	t.Parallel()
	r, err := NewRequest(context.Background(), Request{Method: "GET", RequestURI: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Body != http.NoBody || r.ContentLength != 0 {
		t.Errorf("got body %v, ContentLength %d; want http.NoBody, 0", r.Body, r.ContentLength)
	}
}

// TestNewRequestKeepsEveryContentType: where the framework kept one of
// two Content-Type lines, the request carries both, as net/http's would.
func TestNewRequestKeepsEveryContentType(t *testing.T) {
	t.Parallel()
	raw := []byte("Host: x\r\ncontent-type: text/plain\r\nContent-Length: 3\r\nContent-Type:  application/x-www-form-urlencoded \r\n\r\n")
	visit := func(fn func(k, v []byte)) { fn([]byte("Content-Type"), []byte("application/x-www-form-urlencoded")) }
	r, err := NewRequest(context.Background(), Request{Method: "POST", RequestURI: "/x", VisitHeaders: visit, RawHeaders: raw})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Header["Content-Type"]; len(got) != 2 || got[0] != "text/plain" || got[1] != "application/x-www-form-urlencoded" {
		t.Errorf("got Content-Type %q, want [text/plain application/x-www-form-urlencoded]", got)
	}
	r, err = NewRequest(context.Background(), Request{Method: "POST", RequestURI: "/x", VisitHeaders: visit, RawHeaders: []byte("Content-Type: application/x-www-form-urlencoded\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Header["Content-Type"]; len(got) != 1 {
		t.Errorf("one Content-Type: got %q", got)
	}
}

func TestNewRequestBadURI(t *testing.T) {
	t.Parallel()
	for _, uri := range []string{"", "no-slash", "/%zz"} {
		if _, err := NewRequest(context.Background(), Request{Method: "GET", RequestURI: uri}); err == nil {
			t.Errorf("RequestURI %q: got no error", uri)
		}
	}
}

func TestPathValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v       string
		escaped bool
		want    string
	}{
		{"A%20B", true, "A B"},
		{"A%20B", false, "A%20B"},
		{"s%2F1", true, "s/1"},
		{"bad%zz", true, "bad%zz"}, // not an escape: kept as given
	}
	for _, tt := range tests {
		if got := PathValue(tt.v, tt.escaped); got != tt.want {
			t.Errorf("PathValue(%q, %v) = %q, want %q", tt.v, tt.escaped, got, tt.want)
		}
	}
}

// TestWriterRules: net/http's rules on a buffered framework response.
func TestWriterRules(t *testing.T) {
	t.Parallel()
	res := newFake()
	res.AppendBody([]byte("left by a framework handler"))
	w := NewWriter(res)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "99") // the framework computes it
	w.WriteHeader(http.StatusAccepted)
	w.Header().Set("X-Late", "1")
	w.WriteHeader(http.StatusInternalServerError)
	io.WriteString(w, "fail")
	if res.status != http.StatusAccepted || string(res.body) != "fail" {
		t.Errorf("got %d %q, want 202 %q", res.status, res.body, "fail")
	}
	if res.header.Get("Content-Type") != "text/plain" || res.header.Get("X-Late") != "" || res.header.Get("Content-Length") != "" {
		t.Errorf("got headers %v, want only Content-Type", res.header)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	reject := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "fail")
		})
	}
	type key struct{}
	pass := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Before", "1")
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, "v")))
		})
	}
	// wrap records what passes through its own writer.
	var seen bytes.Buffer
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(&teeWriter{ResponseWriter: w, tee: &seen}, r)
		})
	}
	r := httpRequest(t)

	t.Run("rejected: chain not run", func(t *testing.T) {
		res := newFake()
		ran := false
		called := Run(reject, NewWriter(res), r, func(*http.Request) bool { ran = true; return true })
		if called || ran || res.status != http.StatusUnauthorized || string(res.body) != "fail" {
			t.Errorf("called %v, chain ran %v, reply %d %q; want false, false, 401 fail", called, ran, res.status, res.body)
		}
	})
	t.Run("passed: context and headers carried", func(t *testing.T) {
		res := newFake()
		var got any
		called := Run(pass, NewWriter(res), r, func(r *http.Request) bool { got = r.Context().Value(key{}); return true })
		if !called || got != "v" || res.header.Get("X-Before") != "1" {
			t.Errorf("called %v, context value %v, X-Before %q", called, got, res.header.Get("X-Before"))
		}
	})
	t.Run("wrapped: framework reply replayed", func(t *testing.T) {
		res := newFake()
		Run(wrap, NewWriter(res), r, func(*http.Request) bool {
			res.SetStatus(http.StatusTeapot)
			res.AppendBody([]byte("tea"))
			return true
		})
		if res.status != http.StatusTeapot || string(res.body) != "tea" || seen.String() != "tea" {
			t.Errorf("reply %d %q, wrapper saw %q; want 418 tea, tea", res.status, res.body, seen.String())
		}
	})
	t.Run("wrapped: no replay after a framework error", func(t *testing.T) {
		res := newFake()
		seen.Reset()
		Run(wrap, NewWriter(res), r, func(*http.Request) bool {
			res.AppendBody([]byte("x"))
			return false
		})
		if seen.Len() != 0 || string(res.body) != "x" {
			t.Errorf("wrapper saw %q, body %q; want nothing replayed, body kept", seen.String(), res.body)
		}
	})
}

type teeWriter struct {
	http.ResponseWriter
	tee io.Writer
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.tee.Write(p)
	return w.ResponseWriter.Write(p)
}

func httpRequest(t *testing.T) *http.Request {
	t.Helper()
	r, err := NewRequest(context.Background(), Request{Method: "POST", RequestURI: "/pay/notify", Body: []byte(strings.Repeat("a", 3))})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
