package gatewaytest

import (
	"net/http"
	"time"

	"github.com/cypaykit/kit/model"
)

// CancelWindow is how long after its creation an order can be cancelled.
const CancelWindow = 5 * time.Minute

// cancelOrder answers method=cancel: within CancelWindow of creation (by
// Config.Now) an unpaid, paying or failed order becomes CLOSED and a paid one
// CANCELLED; repeating a cancel succeeds again. Later, or on a refunded
// order, it is 20011.
func (s *Server) cancelOrder(w http.ResponseWriter, rq *request) {
	var req model.CancelRequest
	if !decode(w, rq, &req, true) || !s.knownMerchant(w, req.MchID) {
		return
	}
	s.mu.Lock()
	o := s.lookup(req.MchID, req.PayType, req.OutTradeNo, "")
	code := model.CodeSuccess
	switch {
	case o == nil:
		code = model.CodeOrderNotFound
	case s.now().Sub(o.CreatedAt) > CancelWindow:
		code = model.CodeCancelError
	default:
		switch o.State {
		case Unpaid, Paying, PayFailed:
			o.State = Closed
		case PaidState:
			o.State = Cancelled
		case Closed, Cancelled:
		default:
			code = model.CodeCancelError
		}
	}
	s.mu.Unlock()
	if code != model.CodeSuccess {
		writeFail(w, code, "")
		return
	}
	s.writeSigned(w, rq, model.CodeSuccess, model.TradeSuccess, map[string]string{
		"mch_id":       req.MchID,
		"out_trade_no": req.OutTradeNo,
		"paytype":      string(o.Channel),
		"nonce_str":    newNonce(),
	})
}
