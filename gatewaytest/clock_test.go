package gatewaytest

import (
	"net/http"
	"testing"
	"time"
)

// realTime is a simulator on the gateway's real schedule (no TimeScale),
// whose deliveries are reported on the returned channel.
func realTime(t *testing.T) (*Server, chan Delivery) {
	t.Helper()
	ch := make(chan Delivery, 64)
	cfg := Config{Merchants: map[string]string{mch1: key1}, ControlEndpoints: true,
		OnDelivery: func(d Delivery) { ch <- d }}
	return RunT(t, cfg), ch
}

// next waits for a delivery, for at most bound: the schedule's shortest
// real wait is 15 s, so a delivery inside 10 s came because of Advance.
func next(t *testing.T, ch chan Delivery, what string) Delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no delivery within 10 s", what)
		return Delivery{}
	}
}

func TestAdvanceBringsRetriesForward(t *testing.T) {
	s, ch := realTime(t)
	rc := newReceiver(t, "fail")
	mustPreOrder(t, s, "CLOCK0001", rc.notifyURL())
	if err := s.Pay("CLOCK0001"); err != nil {
		t.Fatal(err)
	}
	if d := next(t, ch, "first attempt"); d.Attempt != 1 {
		t.Fatalf("first delivery is attempt %d", d.Attempt)
	}
	before := s.Now()
	if err := s.Advance(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if d := next(t, ch, "after Advance(15s)"); d.Attempt != 2 {
		t.Fatalf("after Advance(15s): attempt %d, want 2", d.Attempt)
	}
	if got := s.Now().Sub(before); got < 15*time.Second {
		t.Fatalf("the clock moved %s, want at least 15s", got)
	}
	// 3h07m covers every remaining wait (15s+15s+30s+3m+3m+4×30m+1h):
	// attempts 3..12 go out in order, and the series ends.
	if err := s.Advance(3*time.Hour + 7*time.Minute); err != nil {
		t.Fatal(err)
	}
	for want := 3; want <= 12; want++ {
		if d := next(t, ch, "after Advance(3h07m)"); d.Attempt != want {
			t.Fatalf("after Advance(3h07m): attempt %d, want %d", d.Attempt, want)
		}
	}
	if !s.WaitIdle(10 * time.Second) {
		t.Fatal("the series did not end after its 12th attempt")
	}
	if n := len(s.Deliveries("CLOCK0001")); n != 12 {
		t.Fatalf("%d deliveries, want 12", n)
	}
}

func TestAdvanceClosesTheCancelWindow(t *testing.T) {
	s, _ := realTime(t)
	mustPreOrder(t, s, "CLOCK0002", "")
	cancel := func() map[string]string {
		return call(t, s.URL, "/v2/UnifiedPay/Gateway", v2("cancel", "mch_id", mch1, "paytype", "WECHAT", "out_trade_no", "CLOCK0002"), key1)
	}
	if err := s.Advance(CancelWindow + time.Second); err != nil {
		t.Fatal(err)
	}
	expectFail(t, cancel(), "20011")
}

func TestAdvanceRefusesNonPositive(t *testing.T) {
	s, _ := realTime(t)
	for _, d := range []time.Duration{0, -time.Second} {
		if s.Advance(d) == nil {
			t.Errorf("Advance(%s): no error", d)
		}
	}
	if s.Offset() != 0 {
		t.Fatalf("offset %s after refused advances", s.Offset())
	}
}

func TestControlLateLostRedeliverClock(t *testing.T) {
	s, ch := realTime(t)
	rc := newReceiver(t) // answers success
	post := func(path string) int {
		t.Helper()
		res, err := http.Post(s.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	mustPreOrder(t, s, "CLOCKLOST1", rc.notifyURL())
	if code := post("/sim/pay/CLOCKLOST1?notify=lost"); code != http.StatusOK {
		t.Fatalf("pay lost: %d", code)
	}
	if d := next(t, ch, "lost"); d.Err != "dropped" {
		t.Fatalf("lost: first delivery %+v, want dropped", d)
	}

	mustPreOrder(t, s, "CLOCKLATE1", rc.notifyURL())
	if code := post("/sim/pay/CLOCKLATE1?notify=late"); code != http.StatusOK {
		t.Fatalf("pay late: %d", code)
	}
	if code := post("/sim/clock?advance=8m"); code != http.StatusOK {
		t.Fatalf("advance: %d", code)
	}
	arrived := Delivery{}
	for arrived.Err == "dropped" || arrived.Attempt == 0 || arrived.OutTradeNo != "CLOCKLATE1" {
		arrived = next(t, ch, "late")
	}
	if arrived.Attempt != LateAttempts+1 || !arrived.OK {
		t.Fatalf("late: first arrival %+v, want attempt %d answered success", arrived, LateAttempts+1)
	}

	before := len(rc.received())
	if code := post("/sim/redeliver/CLOCKLATE1"); code != http.StatusOK {
		t.Fatalf("redeliver: %d", code)
	}
	// CLOCKLOST1's dropped retries, brought forward by the advance, may
	// still be arriving: skip them.
	d := next(t, ch, "redeliver")
	for d.OutTradeNo == "CLOCKLOST1" {
		d = next(t, ch, "redeliver")
	}
	if d.OutTradeNo != "CLOCKLATE1" || !d.OK {
		t.Fatalf("redeliver: %+v", d)
	}
	if got := rc.received(); len(got) != before+1 || got[len(got)-1].Get("out_trade_no") != "CLOCKLATE1" {
		t.Fatalf("the receiver saw %d more notifications, want 1 copy", len(got)-before)
	}
	for path, want := range map[string]int{
		"/sim/redeliver/CLOCKNOPE":     http.StatusNotFound,
		"/sim/pay/CLOCKLOST1?notify=x": http.StatusBadRequest,
		"/sim/clock?advance=-1m":       http.StatusBadRequest,
	} {
		if code := post(path); code != want {
			t.Errorf("POST %s: %d, want %d", path, code, want)
		}
	}
	mustPreOrder(t, s, "CLOCKNOPAY", rc.notifyURL())
	if code := post("/sim/redeliver/CLOCKNOPAY"); code != http.StatusNotFound {
		t.Errorf("redeliver unpaid: %d, want 404", code)
	}
}
