package client_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cypaykit/kit/model"
)

// BenchmarkOrderQuery compares a full OrderQuery (validate, encode, sign,
// POST, parse, verify, decode) with a bare net/http form POST of a similar
// body to the same loopback server, so the ratio is the client's overhead
// over the transport.
func BenchmarkOrderQuery(b *testing.B) {
	gw := newFake(b, okReply(b))
	b.Run("bare-net-http", func(b *testing.B) {
		form := url.Values{"method": {"orderquery"}, "mch_id": {mchID}, "out_trade_no": {"ORDER00001"},
			"paytype": {"WECHAT"}, "pid": {"testpos"}, "version": {"2.0"}, "sign": {"0123456789ABCDEF0123456789ABCDEF"}}
		body := form.Encode()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			resp, err := http.Post(gw.srv.URL+"/v2/UnifiedPay/Gateway", "application/x-www-form-urlencoded", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("client", func(b *testing.B) {
		c := newClient(b, model.V2, gw.srv.URL)
		ctx := context.Background()
		req := queryReq()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := c.OrderQuery(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
