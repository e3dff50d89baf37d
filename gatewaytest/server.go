// Package gatewaytest runs an in-process simulator of the UnifiedPay (超赢)
// gateway on loopback, shaped like net/http/httptest: pre-orders, order
// query, cancel, refund, refund query, and signed payment notifications
// (异步通知) with the gateway's retry schedule, plus fault injection.
package gatewaytest

import (
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
	// Now is the simulator's clock (for time_end, the 5-minute cancel
	// window). Zero means time.Now.
	Now func() time.Time
	// Faults returns the faults for an out_trade_no; it is consulted when
	// the order is pre-ordered and when it is paid. Zero means no faults.
	// SetFaults overrides it per order.
	Faults func(outTradeNo string) Faults
}

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
	// NoNotify: paying the order sends no notification at all; only a
	// query finds it.
	NoNotify bool
	// DropNotify: notifications are "sent" but never arrive (attempts are
	// recorded as dropped).
	DropNotify bool
	// Duplicates sends each delivery attempt this many extra times at once.
	Duplicates int
	// ExtraFields adds unknown fields (signed like the rest).
	ExtraFields map[string]string
	// WrongKey signs the notification with a wrong key.
	WrongKey bool
	// TamperAmount, when non-zero, replaces total_fee after signing.
	TamperAmount int64
	// TamperMchID, when non-empty, replaces mch_id after signing.
	TamperMchID string
}

// Delivery is one notification delivery attempt.
type Delivery struct {
	OutTradeNo string
	Attempt    int // 1-based, in the retry schedule
	At         time.Time
	Body       string // the form body sent
	Status     int    // HTTP status; 0 when the request failed
	Reply      string // the reply body (truncated)
	Err        string // transport error or "timeout"
	OK         bool   // the reply was exactly "success" in time
}

// Order is the simulator's view of an order.
type Order struct {
	OutTradeNo    string
	MchID         string
	Version       model.Version
	Channel       model.PayType
	TradeType     string
	Amount        int64
	NotifyURL     string
	TransactionID string
	// State is the order's trade state as orderquery reports it.
	State     OrderState
	Refunded  int64
	CreatedAt time.Time
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
)

// Server is a running simulator.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:53412, usable as both
	// client.Config.GatewayURL and OpenURL.
	URL string
}

// NewServer starts a simulator on a loopback port. It panics if cfg has no
// merchant or the listener cannot be opened, like httptest.NewServer.
func NewServer(cfg Config) *Server { panic("unimplemented") }

// RunT starts a simulator and closes it when t ends.
func RunT(t testing.TB, cfg Config) *Server { panic("unimplemented") }

// Close stops the server and waits for pending notification deliveries to
// stop.
func (s *Server) Close() { panic("unimplemented") }

// SetFaults sets the faults for one order (before or after its pre-order).
func (s *Server) SetFaults(outTradeNo string, f Faults) { panic("unimplemented") }

// Pay simulates the buyer paying an unpaid order: it becomes PAID and the
// notification is delivered asynchronously on the retry schedule.
func (s *Server) Pay(outTradeNo string) error { panic("unimplemented") }

// FailPayment simulates a failed payment: the notification carries
// pay_result=1 and the order is PAYFAILED.
func (s *Server) FailPayment(outTradeNo string) error { panic("unimplemented") }

// Order returns the simulator's view of an order.
func (s *Server) Order(outTradeNo string) (Order, bool) { panic("unimplemented") }

// Deliveries returns every delivery attempt made for an order so far.
func (s *Server) Deliveries(outTradeNo string) []Delivery { panic("unimplemented") }

// Settled reports whether a notification for the order was acknowledged
// with "success" (so the simulator stopped retrying).
func (s *Server) Settled(outTradeNo string) bool { panic("unimplemented") }

// WaitIdle blocks until no notification delivery is in flight or
// scheduled, or the timeout passes; it reports whether it became idle.
func (s *Server) WaitIdle(timeout time.Duration) bool { panic("unimplemented") }
