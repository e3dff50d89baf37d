package gatewaytest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// schedule is the gateway's notification retry schedule: the wait before
// each of the 12 attempts.
var schedule = [...]time.Duration{
	0, 15 * time.Second, 15 * time.Second, 15 * time.Second, 30 * time.Second,
	3 * time.Minute, 3 * time.Minute,
	30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute,
	time.Hour,
}

// RetrySchedule returns the gateway's notification retry schedule
// (docs/protocol.md section 5): the wait before each of the 12 attempts, before
// Config.TimeScale applies.
func RetrySchedule() []time.Duration { return append([]time.Duration(nil), schedule[:]...) }

// maxReply is how much of a reply body a Delivery keeps.
const maxReply = 256

// startDelivery runs the retry schedule for one notification body in a
// goroutine that Close cancels and waits for.
func (s *Server) startDelivery(outTradeNo, notifyURL, body string, f Faults) {
	seen := s.offset.Load() // the series starts now, by the simulator's clock
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	if s.busy == 0 {
		s.idle = make(chan struct{})
	}
	s.busy++
	s.wg.Add(1)
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			s.busy--
			if s.busy == 0 {
				close(s.idle)
			}
			s.mu.Unlock()
		}()
		s.deliver(outTradeNo, notifyURL, body, f, seen)
	}()
}

func (s *Server) deliver(outTradeNo, notifyURL, body string, f Faults, seen int64) {
	for i, wait := range schedule {
		if !s.wait(wait, &seen) {
			return
		}
		if f.DropNotify || i < f.DropFirst {
			s.record(Delivery{OutTradeNo: outTradeNo, Attempt: i + 1, At: s.now(), Body: body, Err: "dropped"})
			continue
		}
		n := 1 + max(f.Duplicates, 0)
		results := make(chan bool, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := s.post(outTradeNo, i+1, notifyURL, body)
				s.record(d)
				results <- d.OK
			}()
		}
		wg.Wait()
		close(results)
		ok := false
		for r := range results {
			ok = ok || r
		}
		if ok {
			s.mu.Lock()
			s.settled[outTradeNo] = true
			s.mu.Unlock()
			return
		}
	}
}

// sleep waits d or until Close; it reports whether to go on.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// post makes one delivery attempt. Only a reply whose body is exactly
// "success", read within the reply deadline, counts, whatever the status.
func (s *Server) post(outTradeNo string, attempt int, notifyURL, body string) Delivery {
	d := Delivery{OutTradeNo: outTradeNo, Attempt: attempt, At: s.now(), Body: body}
	ctx, cancel := context.WithTimeout(s.ctx, s.replyTimeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, notifyURL, strings.NewReader(body))
	if err != nil {
		d.Err = err.Error()
		return d
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	resp, err := s.http.Do(req)
	if err != nil {
		d.Err = transportError(err)
		return d
	}
	defer resp.Body.Close()
	d.Status = resp.StatusCode
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if len(b) > maxReply {
		d.Reply = string(b[:maxReply])
	} else {
		d.Reply = string(b)
	}
	if err != nil {
		d.Err = transportError(err)
		return d
	}
	d.OK = string(b) == "success"
	return d
}

func transportError(err error) string {
	var te interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout()) {
		return "timeout"
	}
	return err.Error()
}

func (s *Server) record(d Delivery) {
	s.mu.Lock()
	s.deliveries[d.OutTradeNo] = append(s.deliveries[d.OutTradeNo], d)
	s.mu.Unlock()
	if s.cfg.OnDelivery != nil {
		s.cfg.OnDelivery(d)
	}
}
