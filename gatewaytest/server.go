package gatewaytest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// Config describes the simulated gateway.
type Config struct {
	// Merchants maps mch_id to merchant key (v2). At least one merchant is
	// required.
	Merchants map[string]string
	// AgentID and AgentKey accept v1 / legacy traffic. Zero means v1 and
	// the /Open endpoints answer 20012 (agent error).
	AgentID, AgentKey string
	// Algorithm signs and verifies. Zero means MD5.
	Algorithm sign.Algorithm
	// TimeScale multiplies every delay of the notification retry schedule
	// and the 3 s reply deadline; 0.001 turns hours into seconds. Zero means 1.
	TimeScale float64
	// ReplyTimeout is how long a notification receiver has to answer.
	// Zero means 3 s × TimeScale, the gateway's own deadline, when
	// TimeScale is 1 or more; MinReplyTimeout when the schedule is
	// compressed, so that a loaded machine does not turn a correct
	// receiver into a failing one.
	ReplyTimeout time.Duration
	// Now is the simulator's clock (for time_end, the 5-minute cancel
	// window), before Advance's offset. Zero means time.Now.
	Now func() time.Time
	// Faults returns the faults for an out_trade_no; it is consulted when
	// the order is pre-ordered and when it is paid. Zero means no faults.
	// SetFaults overrides it per order.
	Faults func(outTradeNo string) Faults
	// Addr is the address to listen on, e.g. "127.0.0.1:8090". It must be
	// a loopback address: the simulator accepts forged money. Zero means
	// a random loopback port.
	Addr string
	// ControlEndpoints adds POST /sim/pay/{out_trade_no} (Pay; with
	// ?notify=lost every notification is dropped, with ?notify=late the
	// first LateAttempts are), POST /sim/fail/{out_trade_no}
	// (FailPayment), POST /sim/redeliver/{out_trade_no} (Redeliver),
	// GET /sim/orders/{out_trade_no} (the Order as JSON), and GET and
	// POST /sim/clock?advance=5m (Advance) to the server, so that a
	// simulator run from the command line can be driven with curl or
	// `cypay trigger`. Zero means off.
	ControlEndpoints bool
	// OnDelivery, when set, is called with every delivery attempt once it
	// is recorded, from the delivery's goroutine (calls for different
	// orders may overlap). It must not call Close. Nil means no call.
	OnDelivery func(Delivery)
}

// MinReplyTimeout is the floor of the default notification reply deadline
// when the schedule is compressed. It is far above the gateway's 3 s because
// a compressed schedule means a test, and a test under -race on a loaded
// machine must not see a correct receiver's late answer as a timeout; it
// stays below the 30 s that tests commonly give WaitIdle.
const MinReplyTimeout = 15 * time.Second

// Faults are per-order misbehaviours.
type Faults struct {
	// PreOrderNeedQuery answers the pre-order with trade_state NEED_QUERY
	// (code 10001) although the order is created.
	PreOrderNeedQuery bool
	// PreOrderStatus answers the pre-order with this HTTP status (e.g.
	// 502) and no body; the order is still created.
	PreOrderStatus int
	// PreOrderDelay delays the pre-order reply (the order is created first).
	PreOrderDelay time.Duration
	// PreOrderHold, when not nil, holds the pre-order reply (the order is
	// created first, and after PreOrderDelay) until it is closed or the
	// server closes: a test decides when the gateway answers instead of
	// guessing how long its own requests take.
	PreOrderHold <-chan struct{}
	// NoNotify: paying the order sends no notification at all; only a
	// query finds it.
	NoNotify bool
	// DropNotify: notifications are "sent" but never arrive (attempts are
	// recorded as dropped).
	DropNotify bool
	// DropFirst: the first DropFirst delivery attempts are dropped, so the
	// notification arrives late (with 6, the first to arrive is attempt
	// 7, 7m15s after payment).
	DropFirst int
	// Duplicates sends each delivery attempt this many extra times at once.
	Duplicates int
	// ExtraFields adds unknown fields (signed like the rest).
	ExtraFields map[string]string
	// PaymentFacts adds fields about the payment (coupon_fee, bank_type,
	// sub_appid, wx_mch_id, wx_sub_mch_id, …) to both its notification
	// and its paid order-query reply, signed like the rest and replacing
	// the simulator's own (coupon_fee 0, fee_type CNY, bank_type by
	// channel), as a gateway reporting one payment the same way on both
	// paths would.
	PaymentFacts map[string]string
	// WrongKey signs the notification with a wrong key.
	WrongKey bool
	// TamperAmount, when non-zero, replaces total_fee after signing.
	TamperAmount int64
	// TamperMchID, when non-empty, replaces mch_id after signing.
	TamperMchID string

	// RefundStatus is the refund_status the order's new refunds take
	// (refundquery reports it). Zero means SUCCESS. PROCESSING stays until
	// SetRefundStatus; NOTSURE becomes SUCCESS when the refund is sent
	// again with its out_refund_no; FAIL releases the amount (it is not
	// counted in Refunded); CHANGE counts as refunded.
	RefundStatus model.RefundStatus
	// RefundLostReplies loses the replies of this many refund requests of
	// the order after applying them: each is answered RefundLostStatus
	// (zero: 502) with no body, or after RefundReplyDelay.
	RefundLostReplies int
	// RefundLostStatus is the HTTP status of a lost refund reply; zero
	// means 502.
	RefundLostStatus int
	// RefundReplyDelay, with RefundLostReplies, delays the lost replies by
	// this much (to outlast a client's timeout) instead of answering a
	// status.
	RefundReplyDelay time.Duration
	// RefundUnsigned answers refund requests (applied) without a sign;
	// RefundWrongKey signs them with a wrong key.
	RefundUnsigned, RefundWrongKey bool
	// RefundQueryLost answers this many refundquery requests about the
	// order's refunds with 502 and no body.
	RefundQueryLost int
}

// Delivery is one notification delivery attempt.
type Delivery struct {
	// OutTradeNo is the order the notification is about.
	OutTradeNo string
	Attempt    int       // 1-based, in the retry schedule
	At         time.Time // when the attempt started, by Config.Now
	Body       string    // the form body sent
	Status     int       // HTTP status; 0 when the request failed
	Reply      string    // the reply body (truncated to 256 bytes)
	Err        string    // transport error, "timeout" or "dropped"
	OK         bool      // the reply was exactly "success" in time
}

// Order is the simulator's view of an order. GET /sim/orders/{out_trade_no}
// answers it as JSON in the wire's snake_case names.
type Order struct {
	// OutTradeNo is the merchant's order number the pre-order gave.
	OutTradeNo string `json:"out_trade_no"`
	// MchID is the merchant the order belongs to.
	MchID string `json:"mch_id"`
	// Version is the protocol the order was created under (its key).
	Version model.Version `json:"version"`
	// Channel is the pay type: WECHAT, ALIPAY or ECNY.
	Channel model.PayType `json:"channel"`
	// TradeType is the trade_type that notifications and queries report,
	// e.g. pay.weixin.native for a WeChat NATIVE pre-order.
	TradeType string `json:"trade_type"`
	// Amount is total_fee in fen.
	Amount int64 `json:"amount"`
	// NotifyURL is where the simulator posts the payment notification.
	NotifyURL string `json:"notify_url"`
	// TransactionID is the gateway's trade number, set when paid.
	TransactionID string `json:"transaction_id,omitempty"`
	// State is the order's trade state as orderquery reports it.
	State OrderState `json:"state"`
	// Refunded is the sum of accepted refunds in fen.
	Refunded int64 `json:"refunded"`
	// CreatedAt is when the pre-order was accepted, by Config.Now.
	CreatedAt time.Time `json:"created_at"`
	// TimeStart is the pre-order's time_start as received.
	TimeStart string `json:"time_start,omitempty"`
	// TimeExpire is the pre-order's time_expire as received. When both
	// were sent (either alone does nothing, as at Alipay), an order still
	// unpaid at TimeExpire (by Config.Now and Advance) becomes CLOSED: Pay
	// refuses it and orderquery reports 10004.
	TimeExpire string `json:"time_expire,omitempty"`
}

// OrderState is an order's state in the simulator.
type OrderState string

// Order states.
const (
	Unpaid    OrderState = "UNPAID"
	PaidState OrderState = "PAID"
	Closed    OrderState = "CLOSED"
	Cancelled OrderState = "CANCELLED"
	Refunded  OrderState = "REFUNDED"
	PayFailed OrderState = "PAYFAILED"
	// Paying is an order whose buyer is confirming the payment (see
	// BeginPayment); orderquery answers 10001 / NEED_QUERY.
	Paying OrderState = "PAYING"
)

// Errors of Pay and FailPayment.
var (
	// ErrUnknownOrder: no pre-order created that out_trade_no.
	ErrUnknownOrder = errors.New("gatewaytest: unknown order")
	// ErrNotUnpaid: the order was already paid, failed, closed or
	// cancelled (or, for BeginPayment, is already paying).
	ErrNotUnpaid = errors.New("gatewaytest: order is not unpaid")
)

// Server is a running simulator.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:53412, usable as both
	// client.Config.GatewayURL and OpenURL.
	URL string

	cfg     Config
	ts      *httptest.Server
	http    *http.Client
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closing sync.Once

	mu         sync.Mutex
	orders     map[string]*order
	refunds    map[string]*refund // by mch_id + "\x00" + out_refund_no
	faults     map[string]Faults
	deliveries map[string][]Delivery
	settled    map[string]bool
	busy       int           // delivery goroutines running
	idle       chan struct{} // closed while busy == 0

	offset  atomic.Int64  // Advance's total, in nanoseconds
	step    sync.Mutex    // guards stepped
	stepped chan struct{} // closed and replaced by each Advance
}

// NewServer starts a simulator on a loopback port. It panics if cfg has no
// merchant, if cfg.Addr is not a loopback address or the listener cannot
// be opened, like httptest.NewServer.
func NewServer(cfg Config) *Server {
	s, err := newServer(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// Start is NewServer returning its failures as an error instead of
// panicking; the command line uses it.
func Start(cfg Config) (*Server, error) { return newServer(cfg) }

func newServer(cfg Config) (*Server, error) {
	if len(cfg.Merchants) == 0 {
		return nil, errors.New("gatewaytest: Config.Merchants is empty")
	}
	for id, key := range cfg.Merchants {
		if id == "" || key == "" {
			return nil, errors.New("gatewaytest: a merchant has an empty mch_id or key")
		}
	}
	if cfg.TimeScale < 0 {
		return nil, errors.New("gatewaytest: negative TimeScale")
	}
	if _, err := sign.Sign(nil, "k", cfg.Algorithm); err != nil {
		return nil, fmt.Errorf("gatewaytest: %w", err)
	}
	ln, err := listen(cfg.Addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	s := &Server{
		cfg:        cfg,
		ctx:        ctx,
		cancel:     cancel,
		orders:     map[string]*order{},
		refunds:    map[string]*refund{},
		faults:     map[string]Faults{},
		deliveries: map[string][]Delivery{},
		settled:    map[string]bool{},
		idle:       idle,
		stepped:    make(chan struct{}),
	}
	s.http = &http.Client{
		Timeout: s.replyTimeout(),
		// A redirect is not "success": the gateway posts to notify_url only.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableKeepAlives: true},
	}
	s.ts = httptest.NewUnstartedServer(s.routes())
	s.ts.Listener.Close()
	s.ts.Listener = ln
	s.ts.Start()
	s.URL = s.ts.URL
	return s, nil
}

func listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("gatewaytest: bad Addr: %w", err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("gatewaytest: Addr %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gatewaytest: listen: %w", err)
	}
	return ln, nil
}

// RunT starts a simulator and closes it when t ends.
func RunT(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, cancels every scheduled notification retry and
// waits for delivery goroutines to stop. It may be called more than once.
func (s *Server) Close() {
	s.closing.Do(func() {
		s.cancel()
		s.ts.Close()
		s.wg.Wait()
		s.http.CloseIdleConnections()
	})
}

// SetFaults sets the faults for one order (before or after its pre-order).
// Faults that shape a delivery apply from the next payment on.
func (s *Server) SetFaults(outTradeNo string, f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[outTradeNo] = f
}

func (s *Server) faultsFor(outTradeNo string) Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faultsForLocked(outTradeNo)
}

// faultsForLocked is faultsFor with s.mu held.
func (s *Server) faultsForLocked(outTradeNo string) Faults {
	f, ok := s.faults[outTradeNo]
	if !ok && s.cfg.Faults != nil {
		f = s.cfg.Faults(outTradeNo)
	}
	return f
}

// BeginPayment simulates a buyer who scanned the code and is confirming
// the payment: the order becomes PAYING, which orderquery reports as 10001
// (支付中) with trade_state NEED_QUERY, until Pay or FailPayment. It
// returns ErrUnknownOrder or ErrNotUnpaid.
func (s *Server) BeginPayment(outTradeNo string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownOrder, outTradeNo)
	}
	s.expireLocked(o)
	if o.State != Unpaid {
		return fmt.Errorf("%w: %q is %s", ErrNotUnpaid, outTradeNo, o.State)
	}
	o.State = Paying
	return nil
}

// Pay simulates the buyer paying an unpaid (or paying) order: it becomes
// PAID and the notification is delivered asynchronously on the retry
// schedule. It returns ErrUnknownOrder or ErrNotUnpaid.
func (s *Server) Pay(outTradeNo string) error { return s.settle(outTradeNo, true) }

// FailPayment simulates a failed payment: the notification carries
// pay_result=1 and the order is PAYFAILED. It returns ErrUnknownOrder or
// ErrNotUnpaid.
func (s *Server) FailPayment(outTradeNo string) error { return s.settle(outTradeNo, false) }

// Order returns the simulator's view of an order.
func (s *Server) Order(outTradeNo string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return Order{}, false
	}
	s.expireLocked(o)
	return o.Order, true
}

// PreOrderRequest returns a copy of the form of the pre-order that created
// an order, as received: the simulator accepted it, so its sign verified
// under the endpoint's key and model.Validate passed it. Tests use it to
// see that a field reached the gateway, signed.
func (s *Server) PreOrderRequest(outTradeNo string) (url.Values, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return nil, false
	}
	return maps.Clone(o.preOrderForm), true
}

// Deliveries returns every delivery attempt made for an order so far, in
// the order they finished.
func (s *Server) Deliveries(outTradeNo string) []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries[outTradeNo]...)
}

// Settled reports whether a notification for the order was acknowledged
// with "success" (so the simulator stopped retrying).
func (s *Server) Settled(outTradeNo string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settled[outTradeNo]
}

// WaitIdle blocks until no notification delivery is in flight or
// scheduled, or the timeout passes; it reports whether it became idle.
func (s *Server) WaitIdle(timeout time.Duration) bool {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return true
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}

func (s *Server) alg() sign.Algorithm {
	if s.cfg.Algorithm == "" {
		return sign.MD5
	}
	return s.cfg.Algorithm
}

func (s *Server) scale(d time.Duration) time.Duration {
	if s.cfg.TimeScale == 0 {
		return d
	}
	return time.Duration(float64(d) * s.cfg.TimeScale)
}

func (s *Server) replyTimeout() time.Duration {
	if s.cfg.ReplyTimeout > 0 {
		return s.cfg.ReplyTimeout
	}
	const gateway = 3 * time.Second
	if d := s.scale(gateway); d >= gateway {
		return d
	}
	return MinReplyTimeout
}
