package gatewaytest

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/cypaykit/kit/model"
)

// refundKey keys refunds per merchant, as out_refund_no is unique per
// merchant.
func refundKey(mchID, outRefundNo string) string { return mchID + "\x00" + outRefundNo }

// refund answers method=refund. The order must be paid (or partly
// refunded), total_fee must be its amount, and the refunds together may
// not exceed it; otherwise 20008. Repeating an out_refund_no with the same
// order and amount answers the first refund again; with anything else it
// is 20008. Refunds succeed at once.
func (s *Server) refund(w http.ResponseWriter, rq *request) {
	var req model.RefundRequest
	if !decode(w, rq, &req, true) || !s.knownMerchant(w, req.MchID) {
		return
	}
	s.mu.Lock()
	o := s.lookup(req.MchID, req.PayType, req.OutTradeNo, req.TransactionID)
	if o == nil {
		s.mu.Unlock()
		writeFail(w, model.CodeOrderNotFound, "")
		return
	}
	rf, code, detail := s.addRefund(o, &req)
	var fields map[string]string
	if rf != nil {
		fields = rf.fields()
	}
	s.mu.Unlock()
	if rf == nil {
		writeFail(w, code, detail)
		return
	}
	s.writeSigned(w, rq, model.CodeSuccess, model.TradeSuccess, fields)
}

// addRefund applies a refund request to o; s.mu is held.
func (s *Server) addRefund(o *order, req *model.RefundRequest) (*refund, model.Code, string) {
	key := refundKey(req.MchID, req.OutRefundNo)
	if old, ok := s.refunds[key]; ok {
		if old.order != o || old.fee != req.RefundFee {
			return nil, model.CodeRefundError, "out_refund_no reused"
		}
		return old, "", ""
	}
	switch {
	case o.State != PaidState && o.State != Refunded:
		return nil, model.CodeRefundError, "order not paid"
	case req.TotalFee != o.Amount:
		return nil, model.CodeRefundError, "total_fee"
	case req.RefundFee <= 0 || o.Refunded+req.RefundFee > o.Amount:
		return nil, model.CodeRefundError, "refund_fee"
	}
	now := s.now()
	rf := &refund{
		order:       o,
		outRefundNo: req.OutRefundNo,
		refundID:    newTransactionID(now),
		outRefundID: newOutTransactionID(o.Channel, now),
		fee:         req.RefundFee,
		at:          now,
		serial:      len(o.refunds) + 1,
	}
	o.refunds = append(o.refunds, rf)
	o.Refunded += rf.fee
	o.State = Refunded
	s.refunds[key] = rf
	return rf, "", ""
}

// fields are the refund reply's business fields; s.mu is held.
func (rf *refund) fields() map[string]string {
	o := rf.order
	fee := strconv.FormatInt(rf.fee, 10)
	return map[string]string{
		"mch_id":             o.MchID,
		"out_trade_no":       o.OutTradeNo,
		"transaction_id":     o.TransactionID,
		"out_transaction_id": rf.outRefundID,
		"out_refund_no":      rf.outRefundNo,
		"refund_id":          rf.refundID,
		"refund_channel":     "ORIGINAL",
		"base_fee":           strconv.FormatInt(o.Amount, 10),
		"total_fee":          strconv.FormatInt(o.Amount, 10),
		"base_refund_fee":    fee,
		"refund_fee":         fee,
		"coupon_refund_fee":  "0",
		"paytype":            string(o.Channel),
		"nonce_str":          newNonce(),
	}
}

// item is the refund as a refund_list entry.
func (rf *refund) item() model.RefundItem {
	return model.RefundItem{
		SerialNo:      strconv.Itoa(rf.serial),
		RefundID:      rf.refundID,
		OutRefundID:   rf.outRefundID,
		OutRefundNo:   rf.outRefundNo,
		RefundChannel: "ORIGINAL",
		BaseRefundFee: rf.fee,
		RefundFee:     rf.fee,
		RefundStatus:  model.RefundSuccess,
		RefundTime:    model.FormatTime(rf.at),
	}
}

// refundQuery answers method=refundquery for one refund, by out_refund_no
// (which wins) or refund_id, with refund_list as JSON text in a string. An
// unknown refund is FAIL / 20010 (退款查询错误): the documents name no
// "refund not found" code.
func (s *Server) refundQuery(w http.ResponseWriter, rq *request) {
	var req model.RefundQueryRequest
	if !decode(w, rq, &req, true) || !s.knownMerchant(w, req.MchID) {
		return
	}
	s.mu.Lock()
	var rf *refund
	if req.OutRefundNo != "" {
		rf = s.refunds[refundKey(req.MchID, req.OutRefundNo)]
	} else if req.RefundID != "" {
		for _, x := range s.refunds {
			if x.refundID == req.RefundID && x.order.MchID == req.MchID {
				rf = x
				break
			}
		}
	}
	if rf != nil && req.PayType != "" && req.PayType != rf.order.Channel {
		rf = nil
	}
	var fields map[string]string
	if rf != nil {
		o := rf.order
		list, _ := json.Marshal([]model.RefundItem{rf.item()})
		fee := strconv.FormatInt(rf.fee, 10)
		fields = map[string]string{
			"mch_id":                  o.MchID,
			"out_trade_no":            o.OutTradeNo,
			"transaction_id":          o.TransactionID,
			"out_transaction_id":      o.outTransactionID,
			"refund_count":            "1",
			"base_refund_fee_summary": fee,
			"refund_fee_summary":      fee,
			"refund_list":             string(list),
			"paytype":                 string(o.Channel),
			"nonce_str":               newNonce(),
		}
	}
	s.mu.Unlock()
	if rf == nil {
		writeFail(w, model.CodeRefundQueryError, "")
		return
	}
	s.writeSigned(w, rq, model.CodeSuccess, model.TradeSuccess, fields)
}
