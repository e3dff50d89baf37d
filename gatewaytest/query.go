package gatewaytest

import (
	"maps"
	"net/http"
	"strconv"

	"github.com/cypaykit/kit/model"
)

// lookup finds a merchant's order by out_trade_no, which wins over
// transaction_id as the current documents say. A paytype other than the
// order's does not find it: a client that sends the wrong one has a bug
// worth seeing. s.mu is held.
func (s *Server) lookup(mchID string, pt model.PayType, outTradeNo, transactionID string) *order {
	var o *order
	if outTradeNo != "" {
		o = s.orders[outTradeNo]
	} else if transactionID != "" {
		for _, x := range s.orders {
			if x.TransactionID == transactionID {
				o = x
				break
			}
		}
	}
	if o == nil || o.MchID != mchID || (pt != "" && pt != o.Channel) {
		return nil
	}
	s.expireLocked(o)
	return o
}

// orderQuery answers method=orderquery with the code and trade_state that
// model.OrderQueryResponse.Outcome classifies as the order's state:
// unpaid 10003 / NEED_QUERY and paying 10001 / NEED_QUERY (pending), paid 10000 / SUCCESS, refunded
// 10002 / REFUND, closed 10004, cancelled 10005 and failed 10006 with
// trade_state FAIL, unknown FAIL / 20007.
func (s *Server) orderQuery(w http.ResponseWriter, rq *request) {
	var req model.OrderQueryRequest
	if !decode(w, rq, &req, true) || !s.knownMerchant(w, req.MchID) {
		return
	}
	s.mu.Lock()
	o := s.lookup(req.MchID, req.PayType, req.OutTradeNo, req.TransactionID)
	var fields map[string]string
	var state OrderState
	if o != nil {
		fields, state = o.queryFields(), o.State
		if facts := s.faultsForLocked(o.OutTradeNo).PaymentFacts; len(facts) > 0 && fields["transaction_id"] != "" {
			maps.Copy(fields, facts)
		}
	}
	s.mu.Unlock()
	if o == nil {
		writeFail(w, model.CodeOrderNotFound, "")
		return
	}
	switch state {
	case PaidState:
		s.writeSigned(w, rq, model.CodeSuccess, model.TradeSuccess, fields)
	case Refunded:
		s.writeSigned(w, rq, model.CodeRefunded, model.TradeRefund, fields)
	case Closed:
		s.writeSigned(w, rq, model.CodeClosed, model.TradeFail, fields)
	case Cancelled:
		s.writeSigned(w, rq, model.CodeCancelled, model.TradeFail, fields)
	case PayFailed:
		s.writeSigned(w, rq, model.CodePayError, model.TradeFail, fields)
	case Paying:
		s.writeSigned(w, rq, model.CodePaying, model.TradeNeedQuery, fields)
	default:
		s.writeSigned(w, rq, model.CodeNotPaid, model.TradeNeedQuery, fields)
	}
}

// queryFields are the orderquery business fields; payment facts only once
// the order was paid. s.mu is held.
func (o *order) queryFields() map[string]string {
	f := map[string]string{
		"mch_id":       o.MchID,
		"out_trade_no": o.OutTradeNo,
		"paytype":      string(o.Channel),
		"trade_type":   o.TradeType,
		"base_fee":     strconv.FormatInt(o.Amount, 10),
		"attach":       o.attach,
		"nonce_str":    newNonce(),
	}
	if o.State == PaidState || o.State == Refunded || o.State == Cancelled {
		f["transaction_id"] = o.TransactionID
		f["out_transaction_id"] = o.outTransactionID
		f["total_fee"] = strconv.FormatInt(o.Amount, 10)
		f["coupon_fee"] = "0"
		f["fee_type"] = "CNY"
		f["time_end"] = model.FormatTime(o.paidAt)
		switch o.Channel {
		case model.PayAlipay:
			f["buyer_user_id"] = o.buyerID
		case model.PayWeChat:
			f["sub_appid"] = o.subAppID
			f["sub_openid"] = o.buyerID
		}
	}
	return f
}
