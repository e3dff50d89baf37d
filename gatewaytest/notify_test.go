package gatewaytest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// payAndWait pays an order and waits for its deliveries to end.
func payAndWait(t testing.TB, s *Server, out string) []Delivery {
	t.Helper()
	if err := s.Pay(out); err != nil {
		t.Fatal(err)
	}
	if !s.WaitIdle(30 * time.Second) {
		t.Fatalf("deliveries for %s did not finish", out)
	}
	return s.Deliveries(out)
}

func TestRetryUntilSuccess(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	var hooked atomic.Int32
	cfg.OnDelivery = func(Delivery) { hooked.Add(1) }
	s := RunT(t, cfg)
	rc := newReceiver(t, "fail", "fail", "success")
	mustPreOrder(t, s, "RS00001", rc.notifyURL())
	ds := payAndWait(t, s, "RS00001")
	if len(ds) != 3 {
		t.Fatalf("got %d deliveries, want 3: %+v", len(ds), ds)
	}
	for i, d := range ds {
		if d.Attempt != i+1 || d.OK != (i == 2) || d.Status != http.StatusOK {
			t.Errorf("delivery %d: got attempt %d ok %v status %d", i, d.Attempt, d.OK, d.Status)
		}
	}
	if ds[0].Reply != "fail" || ds[2].Reply != "success" {
		t.Errorf("got replies %q, %q", ds[0].Reply, ds[2].Reply)
	}
	if !s.Settled("RS00001") {
		t.Error("not settled after success")
	}
	if got := len(rc.received()); got != 3 {
		t.Errorf("receiver saw %d requests, want 3", got)
	}
	if got := hooked.Load(); got != 3 {
		t.Errorf("OnDelivery called %d times, want 3", got)
	}
	if ds[0].Body != ds[2].Body {
		t.Error("a retry sent another body")
	}
}

func TestOnlyExactSuccessCounts(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	replies := []string{"success\n", "SUCCESS", " success", "fail", ""}
	// The receivers live as long as the whole test: a closed one would
	// fail every attempt for the wrong reason.
	rcs := make([]*receiver, len(replies))
	for i, reply := range replies {
		rcs[i] = newReceiver(t, reply)
		out := fmt.Sprintf("EX%05d", i)
		mustPreOrder(t, s, out, rcs[i].notifyURL())
		if err := s.Pay(out); err != nil {
			t.Fatal(err)
		}
	}
	if !s.WaitIdle(30 * time.Second) {
		t.Fatal("deliveries did not finish")
	}
	for i, reply := range replies {
		out := fmt.Sprintf("EX%05d", i)
		t.Run(fmt.Sprintf("%q", reply), func(t *testing.T) {
			ds := s.Deliveries(out)
			if len(ds) != len(schedule) || s.Settled(out) {
				t.Errorf("got %d deliveries (settled %v), want all %d unsettled", len(ds), s.Settled(out), len(schedule))
			}
			if got := len(rcs[i].received()); got != len(schedule) {
				t.Errorf("receiver saw %d requests, want %d", got, len(schedule))
			}
			for _, d := range ds {
				if d.OK || d.Status != http.StatusOK || d.Reply != reply {
					t.Errorf("got attempt %d status %d reply %q ok %v, want HTTP 200 %q not ok", d.Attempt, d.Status, d.Reply, d.OK, reply)
				}
			}
		})
	}
}

func TestScheduleIsScaled(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	cfg := fastConfig()
	cfg.Now = clock.Now
	s := RunT(t, cfg)
	// The receiver moves the clock on by each wait of the schedule, so
	// Delivery.At shows the schedule without any timing assertion.
	var mu sync.Mutex
	calls := 0
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		if calls < len(schedule) {
			clock.Add(schedule[calls])
		}
		mu.Unlock()
		w.Write([]byte("no"))
	}))
	t.Cleanup(rc.Close)
	mustPreOrder(t, s, "SC00001", rc.URL)
	ds := payAndWait(t, s, "SC00001")
	if len(ds) != 12 {
		t.Fatalf("got %d attempts, want 12", len(ds))
	}
	var total time.Duration
	for i := 1; i < len(ds); i++ {
		total += ds[i].At.Sub(ds[i-1].At)
	}
	// 0/15s/15s/15s/30s/3m/3m/30m/30m/30m/30m/1h: about 3 h 7 min.
	if want := 3*time.Hour + 7*time.Minute + 15*time.Second; total != want {
		t.Errorf("got schedule span %v, want %v", total, want)
	}
	if got := RetrySchedule(); len(got) != 12 || got[11] != time.Hour {
		t.Errorf("got RetrySchedule %v", got)
	}
}

func TestReplyDeadline(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.ReplyTimeout = 20 * time.Millisecond
	s := RunT(t, cfg)
	release := make(chan struct{})
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Write([]byte("success"))
	}))
	t.Cleanup(rc.Close)
	t.Cleanup(func() { close(release) })
	mustPreOrder(t, s, "SL00001", rc.URL)
	ds := payAndWait(t, s, "SL00001")
	if len(ds) != 12 || s.Settled("SL00001") {
		t.Fatalf("got %d deliveries settled=%v, want 12 unsettled", len(ds), s.Settled("SL00001"))
	}
	if ds[0].Err != "timeout" || ds[0].OK {
		t.Errorf("got %+v, want a timeout", ds[0])
	}
}

func TestReplyTimeoutDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{}, 3 * time.Second},
		{Config{TimeScale: 10}, 30 * time.Second},
		{Config{TimeScale: 0.001}, MinReplyTimeout},
		{Config{TimeScale: 0.999}, MinReplyTimeout},
		{Config{TimeScale: 1}, 3 * time.Second},
		{Config{TimeScale: 0.001, ReplyTimeout: time.Millisecond}, time.Millisecond},
	}
	for _, tt := range tests {
		s := &Server{cfg: tt.cfg}
		if got := s.replyTimeout(); got != tt.want {
			t.Errorf("%+v: got %v, want %v", tt.cfg, got, tt.want)
		}
	}
}

func TestNotificationKeys(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	rc := newReceiver(t)
	// v2: merchant key.
	mustPreOrder(t, s, "KY00001", rc.notifyURL())
	// v1 gateway and legacy Open: agent key.
	for _, c := range []struct{ path, method, out string }{
		{"/UnifiedPay/Gateway", "PreOrder_WECHAT", "KY00002"},
		{"/Open/ALIPAY_PreOrder", "", "KY00003"},
	} {
		r := call(t, s.URL, c.path, v1(c.method, preOrderParams(mch1, c.out, rc.notifyURL())...), agentK)
		if r["code"] != "10000" {
			t.Fatalf("%s: got %v", c.path, r)
		}
	}
	for _, c := range []struct{ out, good, bad string }{
		{"KY00001", key1, agentK},
		{"KY00002", agentK, key1},
		{"KY00003", agentK, key1},
	} {
		ds := payAndWait(t, s, c.out)
		body, err := url.ParseQuery(ds[0].Body)
		if err != nil {
			t.Fatal(err)
		}
		if err := sign.Verify(body, sign.MD5, c.good); err != nil {
			t.Errorf("%s: does not verify with its endpoint's key: %v", c.out, err)
		}
		if err := sign.Verify(body, sign.MD5, c.bad); err == nil {
			t.Errorf("%s: verifies with the other version's key", c.out)
		}
	}
}

func TestNotificationLayouts(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	rc := newReceiver(t)
	for _, c := range []struct{ method, out string }{
		{"PreOrder_WECHAT", "LY00001"},
		{"PreOrder_ALIPAY", "LY00002"},
		{"PreOrder_ECNY", "LY00003"},
	} {
		call(t, s.URL, gw, v2(c.method, preOrderParams(mch1, c.out, rc.notifyURL())...), key1)
	}
	if err := s.Pay("LY00001"); err != nil {
		t.Fatal(err)
	}
	if err := s.Pay("LY00002"); err != nil {
		t.Fatal(err)
	}
	if err := s.FailPayment("LY00003"); err != nil {
		t.Fatal(err)
	}
	s.WaitIdle(30 * time.Second)
	want := map[string]struct {
		tradeType, payResult string
		fields               []string
	}{
		"LY00001": {"pay.weixin.native", "0", []string{"bank_type", "out_transaction_id", "fee_type"}},
		"LY00002": {"pay.alipay.native", "0", []string{"buyer_user_id", "fund_bill_list", "gmt_create", "buyer_logon_id", "invoice_amount"}},
		"LY00003": {"pay.ecny.native", "1", []string{"out_transaction_id"}},
	}
	for out, w := range want {
		ds := s.Deliveries(out)
		if len(ds) == 0 {
			t.Fatalf("%s: no delivery", out)
		}
		v, _ := url.ParseQuery(ds[0].Body)
		n, err := model.DecodeNotification(v)
		if err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if n.TradeType != w.tradeType || n.PayResult != w.payResult || n.ResultCode != "SUCCESS" || n.State != "SUCCESS" {
			t.Errorf("%s: got trade_type %q pay_result %q result_code %q", out, n.TradeType, n.PayResult, n.ResultCode)
		}
		for _, f := range append(w.fields, "mch_id", "out_trade_no", "transaction_id", "total_fee", "time_end", "nonce_str", "sign") {
			if v.Get(f) == "" {
				t.Errorf("%s: missing %s", out, f)
			}
		}
		if len(n.Extra) != 0 {
			t.Errorf("%s: fields the model does not know: %v", out, n.Extra)
		}
	}
	if o, _ := s.Order("LY00003"); o.State != PayFailed {
		t.Errorf("got %s, want PAYFAILED", o.State)
	}
}

func TestNotificationValuesVector(t *testing.T) {
	// The second vector of docs/protocol.md section 2.4 is a WeChat notification;
	// NotificationValues must reproduce its sign from the same fields.
	v, err := NotificationValues(Payment{
		MchID:            "00000001",
		OutTradeNo:       "1497769914931",
		TransactionID:    "199520439266201804177199552446",
		OutTransactionID: "4200000000000000000000000000",
		TotalFee:         4,
		TimeEnd:          time.Date(2018, 4, 17, 9, 47, 29, 0, model.Beijing),
		NonceStr:         "1523929649387",
		Extra:            map[string]string{"fee_type": ""},
	}, "0123456789abcdef0123456789abcdef", sign.MD5)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.Get("sign"), "CAB6021507B842F2AB4678029B41E9B5"; got != want {
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Errorf("got sign %s, want %s (fields %v)", got, want, keys)
	}
}
