package middleware_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/middleware"
)

func TestLogger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantLevel string
		want      map[string]any
	}{
		{
			name:      "written reply",
			handler:   func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "success") },
			wantLevel: "INFO",
			want:      map[string]any{"status": 200.0, "bytes": 7.0},
		},
		{
			name: "explicit status",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, "fail")
			},
			wantLevel: "INFO",
			want:      map[string]any{"status": 400.0, "bytes": 4.0},
		},
		{
			name:      "server error",
			handler:   func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) },
			wantLevel: "ERROR",
			want:      map[string]any{"status": 503.0, "bytes": 0.0},
		},
		{
			name:      "empty reply",
			handler:   func(http.ResponseWriter, *http.Request) {},
			wantLevel: "INFO",
			want:      map[string]any{"status": 200.0, "bytes": 0.0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := logBuffer()
			h := middleware.Logger(logger)(tt.handler)
			body := "mch_id=1&total_fee=4&sign=SECRETSIGN"
			r := httptest.NewRequest(http.MethodPost, "/pay/notify?key=SECRETKEY&sign=SECRETSIGN", strings.NewReader(body))
			r.Header.Set("Authorization", "SECRETAUTH")
			r.RemoteAddr = "203.0.113.9:4000"
			h.ServeHTTP(httptest.NewRecorder(), r)

			line := logs.String()
			for _, secret := range []string{"SECRET", "total_fee"} {
				if strings.Contains(line, secret) {
					t.Errorf("log %q contains %q", line, secret)
				}
			}
			var got map[string]any
			if err := json.Unmarshal(logs.Bytes(), &got); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if got["level"] != tt.wantLevel {
				t.Errorf("got level %v, want %s", got["level"], tt.wantLevel)
			}
			if _, ok := got["duration"]; !ok {
				t.Error("log line has no duration")
			}
			for _, k := range []string{"time", "level", "msg", "duration"} {
				delete(got, k)
			}
			want := map[string]any{"method": "POST", "path": "/pay/notify", "remote": "203.0.113.9:4000"}
			for k, v := range tt.want {
				want[k] = v
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("log attributes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoggerKeepsFlusher(t *testing.T) {
	t.Parallel()
	logger, _ := logBuffer()
	var flushErr error
	h := middleware.Logger(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "x")
		flushErr = http.NewResponseController(w).Flush()
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if flushErr != nil || !w.Flushed {
		t.Errorf("flush: got (%v, flushed %v), want (nil, true)", flushErr, w.Flushed)
	}
}
