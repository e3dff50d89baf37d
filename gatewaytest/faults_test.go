package gatewaytest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/sign"
)

func TestPreOrderFaults(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.Faults = func(out string) Faults {
		if out == "PF00001" {
			return Faults{PreOrderNeedQuery: true}
		}
		return Faults{}
	}
	s := RunT(t, cfg)
	s.SetFaults("PF00002", Faults{PreOrderStatus: http.StatusBadGateway})
	s.SetFaults("PF00003", Faults{PreOrderDelay: time.Hour})
	hold := make(chan struct{})
	s.SetFaults("PF00004", Faults{PreOrderHold: hold, PreOrderStatus: http.StatusBadGateway})

	t.Run("need query", func(t *testing.T) {
		r := call(t, s.URL, gw, v2("PreOrder_WECHAT", preOrderParams(mch1, "PF00001", "")...), key1)
		if r["state"] != "SUCCESS" || r["code"] != "10001" || r["trade_state"] != "NEED_QUERY" || r["code_url"] != "" {
			t.Errorf("got %v, want SUCCESS/10001/NEED_QUERY without code_url", r)
		}
	})
	t.Run("status", func(t *testing.T) {
		p := v2("PreOrder_WECHAT", preOrderParams(mch1, "PF00002", "")...)
		sg, _ := sign.Sign(p, key1, sign.MD5)
		p.Set("sign", sg)
		resp, err := http.PostForm(s.URL+gw, p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadGateway || len(b) != 0 {
			t.Errorf("got HTTP %d body %q, want 502 and no body", resp.StatusCode, b)
		}
	})
	t.Run("delay", func(t *testing.T) {
		p := v2("PreOrder_WECHAT", preOrderParams(mch1, "PF00003", "")...)
		sg, _ := sign.Sign(p, key1, sign.MD5)
		p.Set("sign", sg)
		// The client gives up once the server holds the order, not after
		// a fixed time a loaded machine may spend before the request even
		// arrives.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			defer cancel()
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			give := time.After(30 * time.Second)
			for {
				if _, ok := s.Order("PF00003"); ok {
					return
				}
				select {
				case <-tick.C:
				case <-give:
					return
				}
			}
		}()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+gw, strings.NewReader(p.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got HTTP %d, want the client to give up", resp.StatusCode)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want the request cancelled", err)
		}
	})
	t.Run("hold", func(t *testing.T) {
		p := v2("PreOrder_WECHAT", preOrderParams(mch1, "PF00004", "")...)
		sg, _ := sign.Sign(p, key1, sign.MD5)
		p.Set("sign", sg)
		type result struct {
			status int
			err    error
		}
		replied := make(chan result, 1)
		go func() {
			resp, err := http.PostForm(s.URL+gw, p)
			if err != nil {
				replied <- result{err: err}
				return
			}
			resp.Body.Close()
			replied <- result{status: resp.StatusCode}
		}()
		for give := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, ok := s.Order("PF00004"); ok {
				break
			}
			if time.Now().After(give) {
				t.Fatal("the held pre-order's order was not created within 30 s")
			}
		}
		select {
		case r := <-replied:
			t.Fatalf("got %+v while the reply is held, want no reply yet", r)
		default:
		}
		close(hold)
		select {
		case r := <-replied:
			if r.err != nil || r.status != http.StatusBadGateway {
				t.Errorf("after the hold: got %+v, want HTTP 502 (PreOrderStatus after the hold)", r)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no reply within 30 s of the hold's end")
		}
	})
	for _, out := range []string{"PF00001", "PF00002", "PF00003", "PF00004"} {
		if o, ok := s.Order(out); !ok || o.State != Unpaid {
			t.Errorf("%s: got %+v (found %v), want an unpaid order", out, o, ok)
		}
	}
}

func TestDeliveryFaults(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	type check func(t *testing.T, ds []Delivery, got []url.Values)
	verifies := func(want bool) check {
		return func(t *testing.T, ds []Delivery, got []url.Values) {
			if len(got) == 0 {
				t.Fatal("nothing received")
			}
			err := sign.Verify(got[0], sign.MD5, key1)
			if (err == nil) != want {
				t.Errorf("got verify error %v, want valid=%v", err, want)
			}
		}
	}
	tests := []struct {
		name   string
		faults Faults
		checks []check
	}{
		{"no notify", Faults{NoNotify: true}, []check{func(t *testing.T, ds []Delivery, got []url.Values) {
			if len(ds) != 0 || len(got) != 0 {
				t.Errorf("got %d deliveries, %d received, want none", len(ds), len(got))
			}
		}}},
		{"drop notify", Faults{DropNotify: true}, []check{func(t *testing.T, ds []Delivery, got []url.Values) {
			if len(ds) != 12 || len(got) != 0 {
				t.Fatalf("got %d deliveries, %d received, want 12 and none", len(ds), len(got))
			}
			for _, d := range ds {
				if d.Err != "dropped" || d.OK || d.Body == "" {
					t.Errorf("got %+v, want a dropped attempt with its body", d)
				}
			}
		}}},
		{"duplicates", Faults{Duplicates: 2}, []check{verifies(true), func(t *testing.T, ds []Delivery, got []url.Values) {
			if len(ds) != 3 || len(got) != 3 {
				t.Fatalf("got %d deliveries, %d received, want 3 and 3", len(ds), len(got))
			}
			for _, d := range ds {
				if d.Attempt != 1 || !d.OK || d.Body != ds[0].Body {
					t.Errorf("got %+v, want identical OK first attempts", d)
				}
			}
		}}},
		{"extra fields", Faults{ExtraFields: map[string]string{"gmt_create": "20260101000000", "zz_new": "x"}}, []check{verifies(true), func(t *testing.T, ds []Delivery, got []url.Values) {
			if got[0].Get("zz_new") != "x" || got[0].Get("gmt_create") != "20260101000000" {
				t.Errorf("got %v, want the extra fields", got[0])
			}
		}}},
		{"wrong key", Faults{WrongKey: true}, []check{verifies(false)}},
		{"tamper amount", Faults{TamperAmount: 1}, []check{verifies(false), func(t *testing.T, ds []Delivery, got []url.Values) {
			if got[0].Get("total_fee") != "1" {
				t.Errorf("got total_fee %q, want 1", got[0].Get("total_fee"))
			}
		}}},
		{"tamper mch_id", Faults{TamperMchID: mch2}, []check{verifies(false), func(t *testing.T, ds []Delivery, got []url.Values) {
			if got[0].Get("mch_id") != mch2 {
				t.Errorf("got mch_id %q, want %s", got[0].Get("mch_id"), mch2)
			}
		}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := "FT0000" + string(rune('A'+i))
			rc := newReceiver(t)
			s.SetFaults(out, tt.faults)
			mustPreOrder(t, s, out, rc.notifyURL())
			ds := payAndWait(t, s, out)
			if o, _ := s.Order(out); o.State != PaidState {
				t.Errorf("got %s, want PAID", o.State)
			}
			for _, c := range tt.checks {
				c(t, ds, rc.received())
			}
		})
	}
}

func TestCloseCancelsRetries(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.TimeScale = 1 // the second attempt would come 15 s later
	s := NewServer(cfg)
	rc := newReceiver(t, "fail")
	mustPreOrder(t, s, "CL00001", rc.notifyURL())
	if err := s.Pay("CL00001"); err != nil {
		t.Fatal(err)
	}
	if s.WaitIdle(10 * time.Millisecond) {
		t.Fatal("idle while a retry is scheduled")
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while a retry was scheduled")
	}
	if !s.WaitIdle(0) {
		t.Error("not idle after Close")
	}
	s.Close() // a second Close is harmless
	if n := len(s.Deliveries("CL00001")); n > 1 {
		t.Errorf("got %d deliveries, want at most the first", n)
	}
}

func TestNewServerRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no merchants", Config{}},
		{"empty key", Config{Merchants: map[string]string{mch1: ""}}},
		{"public address", Config{Merchants: map[string]string{mch1: key1}, Addr: "0.0.0.0:0"}},
		{"unknown algorithm", Config{Merchants: map[string]string{mch1: key1}, Algorithm: "CRC32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := Start(tt.cfg); err == nil {
				s.Close()
				t.Fatal("got a server, want an error")
			}
			defer func() {
				if recover() == nil {
					t.Error("NewServer did not panic")
				}
			}()
			NewServer(tt.cfg)
		})
	}
}

func TestControlEndpoints(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.ControlEndpoints = true
	s := RunT(t, cfg)
	rc := newReceiver(t)
	mustPreOrder(t, s, "CE00001", rc.notifyURL())
	resp, err := http.Post(s.URL+"/sim/pay/CE00001", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pay: got HTTP %d, want 200", resp.StatusCode)
	}
	if o, _ := s.Order("CE00001"); o.State != PaidState {
		t.Errorf("got %s, want PAID", o.State)
	}
	for path, want := range map[string]int{"/sim/pay/CE00001": http.StatusConflict, "/sim/pay/NOSUCH01": http.StatusNotFound} {
		resp, err := http.Post(s.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: got HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}
	off := RunT(t, fastConfig())
	resp, err = http.Post(off.URL+"/sim/pay/CE00001", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("control endpoint off: got HTTP %d, want 404", resp.StatusCode)
	}
}
