package adaptertest

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/sign"
)

// Body is a named notification body for adapter tests.
type Body struct {
	// Name says what is tricky about the body, for test names.
	Name string
	// Body is the form body exactly as sent, sign included.
	Body string
}

// TrickyNotifications returns notification bodies for the Kit's merchant,
// each correctly signed, that a framework which decodes and re-encodes a
// form would break: a literal "+" (a space) next to "%2B" (a plus) and
// "%252B", raw UTF-8 percent-encoded, an 8 KiB attach, fields out of
// the sorted order url.Values.Encode would give, and spaces as "%20" with
// lower-case hex escapes. An adapter must hand each to the kit byte for
// byte.
func TrickyNotifications(tb testing.TB) []Body {
	tb.Helper()
	signed := func(attach string) string {
		v, err := gatewaytest.NotificationValues(gatewaytest.Payment{
			MchID: KitMchID, OutTradeNo: "ORDER0001", TotalFee: KitAmount, TransactionID: "T123",
			Extra: map[string]string{"attach": attach},
		}, KitMchKey, sign.MD5)
		if err != nil {
			tb.Fatal(err)
		}
		return v.Encode()
	}
	long := strings.Repeat("a+b %2B咖啡/=&", 8<<10/18)
	plus := signed("a b+c%2Bd %252B&e=f")
	pairs := strings.Split(plus, "&")
	slices.Reverse(pairs)
	return []Body{
		{"plus and percent escapes", plus},
		{"utf-8", signed("咖啡 ☕ café 测试")},
		{"long attach", signed(long)},
		{"unsorted fields", strings.Join(pairs, "&")},
		// Encoders differ; a body that is not url.Values.Encode's own
		// spelling catches an adapter that decodes and re-encodes.
		{"space as %20, lower-case hex", lowerEscapes(strings.ReplaceAll(signed("咖啡 a+b %2B"), "+", "%20"))},
	}
}

// lowerEscapes spells every percent escape in s with lower-case hex
// digits, as some encoders do.
func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// Capture is a kit-side http.Handler that records every body it is given
// and answers the gateway's success only when a verifying middleware
// before it put the notification in the request context (fail, 500,
// otherwise), so one request proves both that the kit verified the body
// and, through Bodies, which bytes reached it.
type Capture struct {
	mu     sync.Mutex
	bodies [][]byte
}

// ServeHTTP records r's body and answers.
func (c *Capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	c.mu.Lock()
	c.bodies = append(c.bodies, b)
	c.mu.Unlock()
	if _, ok := middleware.NotificationFromContext(r.Context()); err != nil || !ok {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "fail")
		return
	}
	io.WriteString(w, "success")
}

// Bodies returns the bodies recorded so far, in order.
func (c *Capture) Bodies() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.bodies)
}

// CheckBodies posts each TrickyNotifications body to u, where a verifying
// middleware guards capture, and fails tb unless every one is answered
// success and reaches capture byte for byte.
func CheckBodies(tb testing.TB, u string, capture *Capture) {
	tb.Helper()
	for _, b := range TrickyNotifications(tb) {
		before := len(capture.Bodies())
		status, reply := PostForm(tb, u, b.Body)
		if status != http.StatusOK || reply != "success" {
			tb.Errorf("%s: got %d %q, want 200 success", b.Name, status, reply)
		}
		got := capture.Bodies()
		if len(got) != before+1 {
			tb.Errorf("%s: the kit handler ran %d times, want once", b.Name, len(got)-before)
			continue
		}
		if !bytes.Equal(got[before], []byte(b.Body)) {
			tb.Errorf("%s: the kit saw a different body:\n got %q\nwant %q", b.Name, trim(got[before]), trim([]byte(b.Body)))
		}
	}
}

func trim(b []byte) []byte {
	if len(b) > 200 {
		return append(b[:200:200], "…"...)
	}
	return b
}
