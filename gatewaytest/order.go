package gatewaytest

import (
	"fmt"
	"maps"
	"net/url"
	"time"

	"github.com/cypaykit/kit/model"
)

// order is an Order plus what the simulator needs to answer and notify.
type order struct {
	Order
	preOrderForm     url.Values // the pre-order as received (sign verified)
	key              string     // signs the order's notifications: the creating endpoint's
	outTransactionID string     // the channel's (WeChat / Alipay) order number
	paidAt           time.Time
	reqTradeType     string // NATIVE, JSPAY, ...
	deviceInfo       string
	attach           string
	subAppID         string
	buyerID          string
	expiresAt        time.Time // from time_start and time_expire together; zero: never
	refunds          []*refund
	notification     string // the body of its payment notification, once sent
	// lostRefundReplies and lostRefundQueries count the refund faults
	// already spent.
	lostRefundReplies, lostRefundQueries int
}

// refund is one accepted refund of an order.
type refund struct {
	order       *order
	outRefundNo string
	refundID    string
	outRefundID string
	fee         int64
	at          time.Time
	serial      int
	status      model.RefundStatus
	requests    int // refund requests naming this number
}

// notifyTradeType is the trade_type the gateway reports in notifications
// and queries, e.g. pay.weixin.native; the request's NATIVE becomes native.
func notifyTradeType(ch model.PayType, reqTradeType string) string {
	kind := "native"
	switch reqTradeType {
	case model.TradeTypeJSPay:
		kind = "jspay"
	case model.TradeTypeApp, model.TradeTypeAppBank:
		kind = "app"
	}
	switch ch {
	case model.PayAlipay:
		return "pay.alipay." + kind
	case model.PayECNY:
		return "pay.ecny." + kind
	}
	return "pay.weixin." + kind
}

// expiryOf is when an order pre-ordered with time_start and time_expire
// expires: zero (never) unless both were sent, and well formed, as the
// gateway documents for Alipay ("需要同时传入才会生效").
func expiryOf(timeStart, timeExpire string) time.Time {
	if timeStart == "" || timeExpire == "" {
		return time.Time{}
	}
	if _, err := model.ParseTime(timeStart); err != nil {
		return time.Time{}
	}
	t, err := model.ParseTime(timeExpire)
	if err != nil {
		return time.Time{}
	}
	return t
}

// expireLocked closes o if it is still unpaid at its expiry. It is applied
// whenever an order is looked at, so the expiry follows the clock,
// Advance included, without a timer. s.mu is held.
func (s *Server) expireLocked(o *order) {
	if o.State == Unpaid && !o.expiresAt.IsZero() && !s.now().Before(o.expiresAt) {
		o.State = Closed
	}
}

// settle moves an unpaid order to PAID (paid) or PAYFAILED and starts its
// notification.
func (s *Server) settle(outTradeNo string, paid bool) error {
	s.mu.Lock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownOrder, outTradeNo)
	}
	s.expireLocked(o)
	if o.State != Unpaid && o.State != Paying {
		st := o.State
		s.mu.Unlock()
		return fmt.Errorf("%w: %q is %s", ErrNotUnpaid, outTradeNo, st)
	}
	now := s.now()
	o.paidAt = now
	o.TransactionID = newTransactionID(now)
	o.outTransactionID = newOutTransactionID(o.Channel, now)
	o.State = PayFailed
	if paid {
		o.State = PaidState
	}
	p := o.payment(paid)
	key, url := o.key, o.NotifyURL
	s.mu.Unlock()

	f := s.faultsFor(outTradeNo)
	if f.NoNotify || url == "" {
		return nil
	}
	if f.WrongKey {
		key = "wrong-" + key
	}
	p.Extra = f.ExtraFields
	if len(f.PaymentFacts) > 0 {
		p.Extra = make(map[string]string, len(f.ExtraFields)+len(f.PaymentFacts))
		maps.Copy(p.Extra, f.PaymentFacts)
		maps.Copy(p.Extra, f.ExtraFields)
	}
	v, err := NotificationValues(p, key, s.alg())
	if err != nil {
		return fmt.Errorf("gatewaytest: build notification: %w", err)
	}
	if f.TamperAmount != 0 {
		v.Set("total_fee", fmt.Sprint(f.TamperAmount))
	}
	if f.TamperMchID != "" {
		v.Set("mch_id", f.TamperMchID)
	}
	s.mu.Lock()
	o.notification = v.Encode()
	s.mu.Unlock()
	s.startDelivery(outTradeNo, url, v.Encode(), f)
	return nil
}

// payment describes o's payment for NotificationValues; s.mu is held.
func (o *order) payment(paid bool) Payment {
	return Payment{
		Channel:          o.Channel,
		MchID:            o.MchID,
		OutTradeNo:       o.OutTradeNo,
		TransactionID:    o.TransactionID,
		OutTransactionID: o.outTransactionID,
		TotalFee:         o.Amount,
		TradeType:        o.TradeType,
		Failed:           !paid,
		TimeEnd:          o.paidAt,
		CreatedAt:        o.CreatedAt,
		DeviceInfo:       o.deviceInfo,
		BuyerID:          o.buyerID,
	}
}
