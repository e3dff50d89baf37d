package formpost

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"
)

// ReadBy is Read with the body's arrival bounded by deadline: a sender
// that trickles its body (one byte a second keeps an idle timeout happy)
// is cut off when deadline passes, and the request fails with
// ErrTimeout (408). Without it one slow client holds a goroutine and a
// descriptor for as long as it likes, whatever the handler's own deadline.
//
// On a net/http server connection the deadline is the connection's read
// deadline (http.ResponseController), so the server also closes the
// connection; once the whole body is in it is lifted again, leaving the
// rest of the exchange to the server's own timeouts. Where
// the ResponseWriter cannot set one (an httptest recorder, a framework
// writer without Unwrap), the body is read through a reader that gives up
// at deadline instead; the connection then lives on until the server's own
// ReadTimeout, which is why hosts must set one too.
func ReadBy(w http.ResponseWriter, r *http.Request, maxBody int64, deadline time.Time) (body []byte, values url.Values, status int, err error) {
	if r.Method != http.MethodPost {
		// Only a POST's body is read; the other refusals need no deadline.
		return Read(w, r, maxBody)
	}
	// One byte past the limit lets Read tell "too large" from "exactly".
	lift := bound(w, r, deadline, maxBody+1)
	body, values, status, err = Read(w, r, maxBody)
	cutOff := errors.Is(err, ErrTimeout)
	if cutOff {
		// The rest of the body is not worth waiting for: without this
		// net/http would try to drain it before replying.
		w.Header().Set("Connection", "close")
	}
	lift(cutOff)
	return body, values, status, err
}

// bound puts deadline on reading r's body and returns what lifts it once
// the read is over. After a read the deadline cut off, a connection's
// deadline stays passed so that nothing more is read from it.
func bound(w http.ResponseWriter, r *http.Request, deadline time.Time, limit int64) (lift func(cutOff bool)) {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(deadline); err == nil {
		return func(cutOff bool) {
			if !cutOff {
				_ = rc.SetReadDeadline(time.Time{})
			}
		}
	}
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	orig := r.Body
	r.Body = &deadlineBody{ctx: ctx, body: orig, limit: limit}
	return func(bool) {
		cancel()
		r.Body = orig
	}
}

// deadlineBody reads body until ctx ends. On the first Read one
// goroutine reads up to limit bytes of the whole body (a caller reading
// more learns of it from the limit it set itself); if ctx ends first,
// that goroutine is abandoned to finish with the underlying read and
// every Read fails.
type deadlineBody struct {
	ctx   context.Context
	body  io.ReadCloser
	limit int64
	once  sync.Once
	done  chan readResult
	rest  *bytes.Reader // the body read, once it is in
	err   error         // the underlying error at its end, or the deadline
}

type readResult struct {
	data []byte
	err  error
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	b.once.Do(func() {
		b.done = make(chan readResult, 1)
		go func() {
			data, err := io.ReadAll(io.LimitReader(b.body, b.limit))
			b.done <- readResult{data, err}
		}()
		select {
		case res := <-b.done:
			b.rest, b.err = bytes.NewReader(res.data), res.err
		case <-b.ctx.Done():
			b.rest, b.err = bytes.NewReader(nil), os.ErrDeadlineExceeded
		}
	})
	n, _ := b.rest.Read(p)
	if n > 0 {
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	return 0, io.EOF
}

func (b *deadlineBody) Close() error { return b.body.Close() }

// timedOut reports whether a body read failed because its deadline passed.
func timedOut(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
