package handler_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// TestSlowBodiesAreShed proves G13 against the slow-body attack: 300
// connections that trickle a notification body a byte at a time are cut
// off by the reply deadline and closed by the server, and a genuine
// notification sent while they are open is still settled.
func TestSlowBodiesAreShed(t *testing.T) {
	t.Parallel()
	const conns = 300
	// A deadline of its own: the host's 10 s default (for tests that must
	// not see load turn a settlement into "fail") made every slow body
	// wait 10 s to be cut off. 5 s is still 2.5 times Notify's own
	// default for the genuine notification, which has three tries.
	e := newEnv(t, envOptions{deadline: 5 * time.Second})
	addr := e.Server.Listener.Addr().String()
	open := make([]net.Conn, 0, conns)
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial after %d connections: %v", len(open), err)
		}
		t.Cleanup(func() { c.Close() })
		_, err = fmt.Fprintf(c, "POST /notify HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 4096\r\n\r\ns", formType)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
	}
	// Keep every body trickling, so that only a deadline on the whole
	// body, not an idle timeout, can end them.
	stop := make(chan struct{})
	var trickle sync.WaitGroup
	trickle.Add(1)
	go func() {
		defer trickle.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, c := range open {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write([]byte("x"))
			}
		}
	}()
	t.Cleanup(func() { close(stop); trickle.Wait() })

	o := e.CreatePending(t, "SLOWBODY1", mchA, model.V2, 100)
	genuine := signedNotification(t, o, keyA, nil)
	// At most the gateway's first three tries (a loaded test machine may
	// make one miss the deadline).
	got := ""
	for try := 0; try < 3 && got != "success"; try++ {
		got = e.postNotifyWithin(t, genuine, 30*time.Second)
	}
	if got != "success" {
		t.Errorf("genuine notification among slow bodies: got %q, want success", got)
	}

	// Each connection must be closed by the server: its reply (if any)
	// then EOF or a reset. A read that is still waiting after 30 s means
	// the server kept the connection.
	var kept sync.WaitGroup
	var mu sync.Mutex
	stillOpen := 0
	for _, c := range open {
		kept.Add(1)
		go func() {
			defer kept.Done()
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				mu.Lock()
				stillOpen++
				mu.Unlock()
			}
		}()
	}
	kept.Wait()
	if stillOpen != 0 {
		t.Errorf("slow-body connections still open after 30 s: %d of %d", stillOpen, conns)
	}
	if st := e.Get(t, o.OutTradeNo); st.Status != store.Paid || !st.Fulfilled {
		t.Errorf("genuine order: got %s fulfilled=%v, want PAID and fulfilled", st.Status, st.Fulfilled)
	}
}
