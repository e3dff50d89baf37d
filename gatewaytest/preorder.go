package gatewaytest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// wechatAppKey signs the simulated WeChat JSAPI paySign; browsers never
// check it against anything, it only has to look real.
const wechatAppKey = "gatewaytest-wechat-api-key-000000"

func (s *Server) preOrder(w http.ResponseWriter, rq *request, ch model.PayType) {
	var req model.PreOrderRequest
	if !decode(w, rq, &req, false) {
		return
	}
	req.Channel = ch
	if !valid(w, &req) {
		return
	}
	if !s.knownMerchant(w, req.MchID) {
		return
	}
	now := s.now()
	o := &order{
		Order: Order{
			OutTradeNo: req.OutTradeNo,
			MchID:      req.MchID,
			Version:    rq.version,
			Channel:    ch,
			TradeType:  notifyTradeType(ch, req.TradeType),
			Amount:     req.TotalFee,
			NotifyURL:  req.NotifyURL,
			State:      Unpaid,
			CreatedAt:  now,
			TimeStart:  req.TimeStart,
			TimeExpire: req.TimeExpire,
		},
		expiresAt:    expiryOf(req.TimeStart, req.TimeExpire),
		key:          rq.key,
		reqTradeType: req.TradeType,
		deviceInfo:   req.DeviceInfo,
		attach:       req.Attach,
		subAppID:     req.SubAppID,
		buyerID:      req.BuyerID,
		preOrderForm: maps.Clone(rq.form),
	}
	s.mu.Lock()
	if _, dup := s.orders[req.OutTradeNo]; dup {
		s.mu.Unlock()
		writeFail(w, model.CodeBadParam, "out_trade_no exists")
		return
	}
	s.orders[req.OutTradeNo] = o
	s.mu.Unlock()

	f := s.faultsFor(req.OutTradeNo)
	if f.PreOrderDelay > 0 && !s.sleep(f.PreOrderDelay) {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if f.PreOrderHold != nil {
		select {
		case <-f.PreOrderHold:
		case <-s.ctx.Done():
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	if f.PreOrderStatus != 0 {
		w.WriteHeader(f.PreOrderStatus)
		return
	}
	fields := map[string]string{
		"mch_id":       req.MchID,
		"out_trade_no": req.OutTradeNo,
		"nonce_str":    newNonce(),
	}
	if f.PreOrderNeedQuery {
		s.writeSigned(w, rq, model.CodePaying, model.TradeNeedQuery, fields)
		return
	}
	if req.TradeType == model.TradeTypeNative {
		fields["code_url"] = codeURL(ch)
	} else {
		info, token := payInfo(ch, req.SubAppID, now)
		fields["pay_info"] = info
		fields["token_id"] = token
	}
	s.writeSigned(w, rq, model.CodeSuccess, model.TradeSuccess, fields)
}

// codeURL is the text a NATIVE pre-order returns for the QR code, in each
// channel's real shape.
func codeURL(ch model.PayType) string {
	switch ch {
	case model.PayAlipay:
		return "https://qr.alipay.com/bax" + randomFrom("0123456789abcdefghijklmnopqrstuvwxyz", 21)
	case model.PayECNY:
		return "https://qr.pbcdci.cn/" + digits(24)
	}
	return "weixin://wxpay/bizpayurl?pr=" + randomFrom(alnum, 7)
}

// payInfo is the JSON a JSPAY / APP pre-order returns for the cashier:
// WeChat's JSAPI parameters, Alipay's {"tradeNO":…}, and for e-CNY (which
// the documents do not show) a {"payUrl":…} invented by the simulator.
func payInfo(ch model.PayType, appID string, now time.Time) (info, token string) {
	var v any
	switch ch {
	case model.PayAlipay:
		token = now.In(model.Beijing).Format("20060102") + digits(20)
		v = map[string]string{"tradeNO": token}
	case model.PayECNY:
		token = digits(24)
		v = map[string]string{"payUrl": "https://qr.pbcdci.cn/" + token}
	default:
		if appID == "" {
			appID = "wx" + randomFrom("0123456789abcdef", 16)
		}
		token = "wx" + now.In(model.Beijing).Format("02150405") + randomFrom("0123456789abcdef", 24)
		m := map[string]string{
			"appId":     appID,
			"timeStamp": strconv.FormatInt(now.Unix(), 10),
			"nonceStr":  newNonce(),
			"package":   "prepay_id=" + token,
			"signType":  "MD5",
		}
		ps, err := sign.SignMap(m, wechatAppKey, sign.MD5)
		if err != nil {
			panic(fmt.Sprintf("gatewaytest: sign pay_info: %v", err))
		}
		m["paySign"] = ps
		v = m
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("gatewaytest: encode pay_info: %v", err))
	}
	return string(b), token
}
