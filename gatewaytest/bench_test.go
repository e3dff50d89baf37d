package gatewaytest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cypaykit/kit/sign"
)

// BenchmarkPreOrder compares a signed v2 pre-order round trip through the
// simulator with the same request to a bare net/http handler that only
// parses the form and writes a fixed JSON reply (the baseline). Both sides
// sign the request, so the ratio is the simulator's own cost.
func BenchmarkPreOrder(b *testing.B) {
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"state":"SUCCESS","code":"10000"}`)
	}))
	b.Cleanup(bare.Close)
	s := RunT(b, fastConfig())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.Cleanup(client.CloseIdleConnections)

	run := func(b *testing.B, target string) {
		b.ReportAllocs()
		for i := range b.N {
			p := v2("PreOrder_WECHAT", preOrderParams(mch1, fmt.Sprintf("BENCH%s%08d", strings.ReplaceAll(b.Name(), "/", ""), i), "")...)
			p.Del("notify_url")
			sg, _ := sign.Sign(p, key1, sign.MD5)
			p.Set("sign", sg)
			resp, err := client.PostForm(target, p)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	b.Run("baseline=bare-net-http", func(b *testing.B) { run(b, bare.URL+gw) })
	b.Run("simulator", func(b *testing.B) { run(b, s.URL+gw) })
}
