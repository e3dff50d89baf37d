// Package formpost reads the gateway's form POSTs (payment notifications)
// the one way the kit trusts, for package handler and package middleware
// alike: POST only, a form content type, the body read once through a size
// limit and parsed on its own, so the query string never enters the signed
// set and nothing can be read two ways.
package formpost

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// ContentType is the only content type the gateway posts with. Its charset
// parameter is ignored: the gateway's own tools send odd ones.
const ContentType = "application/x-www-form-urlencoded"

// Why a POST is refused. The messages carry no body text, so they can be
// logged as they are.
var (
	ErrMethod      = errors.New("method is not POST")
	ErrContentType = errors.New("content type is not " + ContentType)
	ErrTooLarge    = errors.New("body too large")
	ErrRead        = errors.New("body read failed")
	ErrMalformed   = errors.New("body is not a form")
	ErrDuplicate   = errors.New("a name is given more than once")
	ErrUTF8        = errors.New("body is not valid UTF-8")
	ErrTimeout     = errors.New("body not received in time")
)

// Read checks r's method and content type, reads at most maxBody bytes of
// its body once and parses them as a form. On failure it returns one of
// this package's errors and the HTTP status that goes with it; the values
// are then nil. A name given twice is refused rather than resolved, and so
// are names or values that are not UTF-8 once decoded.
func Read(w http.ResponseWriter, r *http.Request, maxBody int64) (body []byte, values url.Values, status int, err error) {
	if r.Method != http.MethodPost {
		return nil, nil, http.StatusMethodNotAllowed, ErrMethod
	}
	if len(r.Header["Content-Type"]) > 1 {
		// Which one counts differs between servers (net/http's Get takes
		// the first, fasthttp keeps the last): refuse the ambiguity.
		return nil, nil, http.StatusUnsupportedMediaType, ErrContentType
	}
	if ct := r.Header.Get("Content-Type"); ct != ContentType {
		// The exact type needs no parsing (and no parameter map), which
		// the duplicate path's throughput notices; anything else is
		// parsed in full.
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != ContentType {
			return nil, nil, http.StatusUnsupportedMediaType, ErrContentType
		}
	}
	body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, nil, http.StatusRequestEntityTooLarge, ErrTooLarge
		}
		if timedOut(err) {
			return nil, nil, http.StatusRequestTimeout, ErrTimeout
		}
		return nil, nil, http.StatusBadRequest, ErrRead
	}
	values, err = url.ParseQuery(string(body))
	if err != nil || len(values) == 0 {
		return nil, nil, http.StatusBadRequest, ErrMalformed
	}
	for k, vs := range values {
		if len(vs) != 1 {
			return nil, nil, http.StatusBadRequest, ErrDuplicate
		}
		if !utf8.ValidString(k) || !utf8.ValidString(vs[0]) {
			return nil, nil, http.StatusBadRequest, ErrUTF8
		}
	}
	return body, values, 0, nil
}
