package formpost_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cypaykit/kit/internal/formpost"
)

func TestRead(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name, method, target, contentType, body string
		maxBody                                 int64
		wantStatus                              int
		wantErr                                 error
		want                                    map[string]string
	}{
		{name: "ok", body: "a=1&b=%E8%B6%85", want: map[string]string{"a": "1", "b": "超"}},
		{name: "charset ignored", contentType: form + "; charset=GBK", body: "a=1", want: map[string]string{"a": "1"}},
		{name: "query string ignored", target: "/n?sign=X&a=2", body: "a=1", want: map[string]string{"a": "1"}},
		{name: "GET", method: http.MethodGet, body: "a=1", wantStatus: 405, wantErr: formpost.ErrMethod},
		{name: "JSON", contentType: "application/json", body: `{"a":1}`, wantStatus: 415, wantErr: formpost.ErrContentType},
		{name: "no content type", contentType: "-", body: "a=1", wantStatus: 415, wantErr: formpost.ErrContentType},
		{name: "form, then another content type", contentType: form + "\ntext/plain", body: "a=1", wantStatus: 415, wantErr: formpost.ErrContentType},
		{name: "the form's content type twice", contentType: form + "\n" + form, body: "a=1", wantStatus: 415, wantErr: formpost.ErrContentType},
		{name: "too large", maxBody: 4, body: "a=12345", wantStatus: 413, wantErr: formpost.ErrTooLarge},
		{name: "empty", body: "", wantStatus: 400, wantErr: formpost.ErrMalformed},
		{name: "bad escape", body: "a=%zz", wantStatus: 400, wantErr: formpost.ErrMalformed},
		{name: "duplicate", body: "a=1&a=1", wantStatus: 400, wantErr: formpost.ErrDuplicate},
		{name: "raw invalid UTF-8", body: "a=\xff", wantStatus: 400, wantErr: formpost.ErrUTF8},
		{name: "escaped invalid UTF-8", body: "a=%FF", wantStatus: 400, wantErr: formpost.ErrUTF8},
		{name: "invalid UTF-8 name", body: "%FF=1", wantStatus: 400, wantErr: formpost.ErrUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, target, maxBody := tt.method, tt.target, tt.maxBody
			if method == "" {
				method = http.MethodPost
			}
			if target == "" {
				target = "/n"
			}
			if maxBody == 0 {
				maxBody = 1 << 10
			}
			r := httptest.NewRequest(method, target, strings.NewReader(tt.body))
			switch tt.contentType {
			case "":
				r.Header.Set("Content-Type", form)
			case "-":
			default: // one header line per line of contentType
				r.Header["Content-Type"] = strings.Split(tt.contentType, "\n")
			}
			body, values, status, err := formpost.Read(httptest.NewRecorder(), r, maxBody)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err: got %v, want %v", err, tt.wantErr)
			}
			if status != tt.wantStatus {
				t.Errorf("status: got %d, want %d", status, tt.wantStatus)
			}
			if tt.wantErr != nil {
				if values != nil || body != nil {
					t.Errorf("got values %v and body %q with an error, want none", values, body)
				}
				return
			}
			if string(body) != tt.body {
				t.Errorf("body: got %q, want %q", body, tt.body)
			}
			if len(values) != len(tt.want) {
				t.Errorf("values: got %v, want %v", values, tt.want)
			}
			for k, v := range tt.want {
				if got := values.Get(k); got != v {
					t.Errorf("values[%q]: got %q, want %q", k, got, v)
				}
			}
		})
	}
}
