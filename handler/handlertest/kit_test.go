package handlertest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cypaykit/kit/handler/handlertest"
)

// TestKitOnServeMux: the kit mounted on a plain net/http ServeMux passes
// CheckPayment, so a failure of an adapter using it is the adapter's.
func TestKitOnServeMux(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	k := handlertest.NewKit(t, base+"/pay/notify")
	mux := http.NewServeMux()
	mux.Handle("POST /pay/preorder", k.PreOrder)
	mux.Handle("POST /pay/notify", k.Notify)
	mux.Handle("GET /pay/orders/{out_trade_no}", k.Status)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	k.CheckPayment(t, base)
}
