package gatewaytest

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// Payment is a payment result to announce, as NotificationValues takes it.
type Payment struct {
	// Channel picks the layout: ALIPAY the Alipay one, anything else the
	// WeChat one (e-CNY has no documented layout of its own). Zero means
	// WECHAT.
	Channel model.PayType
	// MchID is the merchant the notification names.
	MchID string
	// OutTradeNo is the order the notification is about.
	OutTradeNo string
	// TransactionID is the gateway's trade number. Zero means a fresh one.
	TransactionID string
	// OutTransactionID is the channel's order number. Zero means a fresh
	// one.
	OutTransactionID string
	// TotalFee is the order amount in fen.
	TotalFee int64
	// TradeType is the notification's trade_type. Zero means the channel's
	// native one, e.g. pay.weixin.native.
	TradeType string
	// Failed sends pay_result=1 (a failed payment; result_code stays
	// SUCCESS). Zero means pay_result=0, paid.
	Failed bool
	// TimeEnd is the payment time. Zero means now.
	TimeEnd time.Time
	// CreatedAt is the order's creation (Alipay gmt_create). Zero means
	// TimeEnd.
	CreatedAt time.Time
	// DeviceInfo is echoed when set.
	DeviceInfo string
	// BuyerID is the buyer (Alipay buyer_user_id). Zero means a fresh
	// 2088… id for Alipay and nothing for the others.
	BuyerID string
	// NonceStr is the nonce. Zero means a fresh one.
	NonceStr string
	// Extra fields are added before signing, overriding built ones.
	Extra map[string]string
}

// NotificationValues builds the gateway's payment notification for p, in
// the layout of docs/protocol.md section 5, signed with key under alg (zero
// means MD5). The simulator and `cypay notify` both use it, so a test
// notification is exactly what the simulator would send.
func NotificationValues(p Payment, key string, alg sign.Algorithm) (url.Values, error) {
	end := p.TimeEnd
	if end.IsZero() {
		end = time.Now()
	}
	created := p.CreatedAt
	if created.IsZero() {
		created = end
	}
	ch := p.Channel
	if ch == "" {
		ch = model.PayWeChat
	}
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	payResult := model.PayResultSuccess
	if p.Failed {
		payResult = "1"
	}
	v := url.Values{}
	v.Set("state", string(model.StateSuccess))
	v.Set("result_code", model.ResultSuccess)
	v.Set("mch_id", p.MchID)
	v.Set("pay_result", payResult)
	v.Set("out_trade_no", p.OutTradeNo)
	v.Set("transaction_id", or(p.TransactionID, newTransactionID(end)))
	v.Set("out_transaction_id", or(p.OutTransactionID, newOutTransactionID(ch, end)))
	v.Set("total_fee", strconv.FormatInt(p.TotalFee, 10))
	v.Set("fee_type", "CNY")
	v.Set("time_end", model.FormatTime(end))
	v.Set("trade_type", or(p.TradeType, notifyTradeType(ch, model.TradeTypeNative)))
	v.Set("nonce_str", or(p.NonceStr, newNonce()))
	if p.DeviceInfo != "" {
		v.Set("device_info", p.DeviceInfo)
	}
	switch ch {
	case model.PayAlipay:
		v.Set("buyer_user_id", or(p.BuyerID, "2088"+digits(12)))
		v.Set("buyer_logon_id", "138****"+digits(4))
		v.Set("bank_type", "ALIPAYACCOUNT")
		v.Set("invoice_amount", strconv.FormatInt(p.TotalFee, 10))
		v.Set("gmt_create", model.FormatTime(created))
		v.Set("fund_bill_list", fmt.Sprintf(`[{"amount":"%s","fundChannel":"ALIPAYACCOUNT"}]`, yuan(p.TotalFee)))
	case model.PayECNY:
		v.Set("bank_type", "ECNY")
	default:
		v.Set("bank_type", "CFT")
		if p.BuyerID != "" {
			v.Set("sub_openid", p.BuyerID)
		}
	}
	for k, x := range p.Extra {
		v.Set(k, x)
	}
	s, err := sign.Sign(v, key, alg)
	if err != nil {
		return nil, err
	}
	v.Set(sign.Param, s)
	return v, nil
}

// yuan writes fen as a yuan amount, e.g. 1 → "0.01", the way Alipay's
// fund_bill_list carries it.
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}
