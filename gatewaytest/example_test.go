package gatewaytest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/sign"
)

// A test starts the simulator, creates a v2 pre-order, pays it and
// watches the notification reach its notify_url.
func ExampleNewServer() {
	const mchID, key = "00000001", "0123456789abcdef0123456789abcdef"
	sim := gatewaytest.NewServer(gatewaytest.Config{
		Merchants: map[string]string{mchID: key},
		TimeScale: 0.001, // retries every few milliseconds instead of minutes
	})
	defer sim.Close()

	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if sign.Verify(r.PostForm, sign.MD5, key) == nil {
			io.WriteString(w, "success")
		}
	}))
	defer shop.Close()

	form := url.Values{
		"method": {"PreOrder_WECHAT"}, "pid": {"demo"}, "version": {"1.0"},
		"mch_id": {mchID}, "out_trade_no": {"DEMO00001"}, "total_fee": {"1"},
		"body": {"coffee"}, "trade_type": {"NATIVE"}, "product_id": {"P1"},
		"notify_url": {shop.URL + "/notify"},
	}
	s, _ := sign.Sign(form, key, sign.MD5)
	form.Set("sign", s)
	resp, err := http.PostForm(sim.URL+"/v2/UnifiedPay/Gateway", form)
	if err != nil {
		panic(err)
	}
	var reply map[string]string
	json.NewDecoder(resp.Body).Decode(&reply)
	resp.Body.Close()
	fmt.Println(reply["state"], reply["code"], reply["trade_state"], sign.VerifyMap(reply, sign.MD5, key) == nil)

	sim.Pay("DEMO00001")
	sim.WaitIdle(10 * time.Second)
	o, _ := sim.Order("DEMO00001")
	fmt.Println(o.State, sim.Settled("DEMO00001"), len(sim.Deliveries("DEMO00001")))
	// Output:
	// SUCCESS 10000 SUCCESS true
	// PAID true 1
}
