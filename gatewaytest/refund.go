package gatewaytest

import (
	"encoding/json"
	"errors"
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
// order and amount answers the first refund again (a NOTSURE one becomes
// SUCCESS); with anything else it is 20008. Refunds take the order's
// Faults.RefundStatus (SUCCESS by default), and the refund faults may
// lose, delay or mis-sign the reply of a refund that was applied.
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
	f := s.faultsForLocked(o.OutTradeNo)
	rf, code, detail := s.addRefund(o, &req, f)
	var fields map[string]string
	lose := false
	if rf != nil {
		fields = rf.fields()
		if o.lostRefundReplies < f.RefundLostReplies {
			o.lostRefundReplies++
			lose = true
		}
	}
	s.mu.Unlock()
	if rf == nil {
		writeFail(w, code, detail)
		return
	}
	if lose {
		if f.RefundReplyDelay > 0 {
			s.sleep(f.RefundReplyDelay)
		}
		status := f.RefundLostStatus
		if status == 0 {
			status = http.StatusBadGateway
		}
		w.WriteHeader(status)
		return
	}
	switch {
	case f.RefundUnsigned:
		fields["state"], fields["code"], fields["msg"], fields["trade_state"] = "SUCCESS", "10000", "SUCCESS", "SUCCESS"
		writeJSON(w, http.StatusOK, fields)
	case f.RefundWrongKey:
		wrong := *rq
		wrong.key = rq.key + "-wrong"
		s.writeSigned(w, &wrong, model.CodeSuccess, model.TradeSuccess, fields)
	default:
		s.writeSigned(w, rq, model.CodeSuccess, model.TradeSuccess, fields)
	}
}

// addRefund applies a refund request to o; s.mu is held.
func (s *Server) addRefund(o *order, req *model.RefundRequest, f Faults) (*refund, model.Code, string) {
	key := refundKey(req.MchID, req.OutRefundNo)
	if old, ok := s.refunds[key]; ok {
		if old.order != o || old.fee != req.RefundFee {
			return nil, model.CodeRefundError, "out_refund_no reused"
		}
		old.requests++
		if old.status == model.RefundNotSure {
			old.status = model.RefundSuccess
			old.at = s.now()
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
		status:      f.RefundStatus,
		requests:    1,
	}
	if rf.status == "" {
		rf.status = model.RefundSuccess
	}
	o.refunds = append(o.refunds, rf)
	s.refunds[key] = rf
	if rf.status != model.RefundFail {
		o.Refunded += rf.fee
		o.State = Refunded
	}
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

// refundTime writes refund_time in both of the gateway's formats: the
// documented yyyyMMddHHmmss for even serial numbers, the example's
// "yyyy-MM-dd HH:mm:ss" for odd ones, so clients meet both.
func (rf *refund) refundTime() string {
	if rf.serial%2 == 0 {
		return model.FormatTime(rf.at)
	}
	return rf.at.In(model.Beijing).Format("2006-01-02 15:04:05")
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
		RefundStatus:  rf.status,
		RefundTime:    rf.refundTime(),
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
	if rf != nil && rf.order.lostRefundQueries < s.faultsForLocked(rf.order.OutTradeNo).RefundQueryLost {
		rf.order.lostRefundQueries++
		s.mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
		return
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

// ErrUnknownRefund: no refund request created that out_refund_no.
var ErrUnknownRefund = errors.New("gatewaytest: unknown refund")

// RefundInfo is the simulator's view of one refund.
type RefundInfo struct {
	// OutRefundNo is the merchant's refund number.
	OutRefundNo string
	// OutTradeNo is the refunded order.
	OutTradeNo string
	// RefundID is the simulator's refund number.
	RefundID string
	// Fee is the refunded amount in fen.
	Fee int64
	// Status is where the refund stands (SUCCESS, PROCESSING, ...).
	Status model.RefundStatus
	// Requests counts the refund requests that named this out_refund_no
	// and were accepted (the first and every repeat).
	Requests int
}

// Refunds returns the refunds of an order, oldest first, as the simulator
// holds them: tests count them to prove that no second number was issued.
func (s *Server) Refunds(outTradeNo string) []RefundInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RefundInfo
	for _, o := range s.orders {
		if o.OutTradeNo != outTradeNo {
			continue
		}
		for _, rf := range o.refunds {
			out = append(out, RefundInfo{OutRefundNo: rf.outRefundNo, OutTradeNo: o.OutTradeNo, RefundID: rf.refundID,
				Fee: rf.fee, Status: rf.status, Requests: rf.requests})
		}
	}
	return out
}

// SetRefundStatus moves a refund to st, as the gateway does when a
// PROCESSING refund completes (SUCCESS), fails (FAIL) or is returned to
// the merchant (CHANGE). A refund moving to or from FAIL adjusts the
// order's Refunded.
func (s *Server) SetRefundStatus(outRefundNo string, st model.RefundStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rf := range s.refunds {
		if rf.outRefundNo != outRefundNo {
			continue
		}
		o := rf.order
		switch {
		case rf.status != model.RefundFail && st == model.RefundFail:
			o.Refunded -= rf.fee
		case rf.status == model.RefundFail && st != model.RefundFail:
			o.Refunded += rf.fee
		}
		rf.status, rf.at = st, s.now()
		return nil
	}
	return ErrUnknownRefund
}
