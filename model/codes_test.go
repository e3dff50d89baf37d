package model_test

import (
	"testing"

	"github.com/cypaykit/kit/model"
)

// meaningCase is one code and the meaning docs/protocol.md section 6 gives it.
type meaningCase struct {
	code interface{ Meaning() (model.Meaning, bool) }
	zh   string
}

func TestMeanings(t *testing.T) {
	t.Parallel()
	tests := []meaningCase{
		{model.StateSuccess, "成功"},
		{model.StateFail, "失败"},
		{model.StateVer, "版本过低"},

		{model.CodeSuccess, "成功"},
		{model.CodePaying, "支付中"},
		{model.CodeRefunded, "转入退款"},
		{model.CodeNotPaid, "未支付"},
		{model.CodeClosed, "已关闭"},
		{model.CodeCancelled, "已撤销"},
		{model.CodePayError, "支付错误"},
		{model.CodeSignError, "签名错误"},
		{model.CodeResponseSign, "响应结果签名错误"},
		{model.CodeBadParam, "参数错误"},
		{model.CodeMerchantError, "商户错误"},
		{model.CodeSystemError, "系统错误"},
		{model.CodeOrderNotFound, "订单不存在"},
		{model.CodeRefundError, "退款错误"},
		{model.CodeQueryError, "交易查询错误"},
		{model.CodeRefundQueryError, "退款查询错误"},
		{model.CodeCancelError, "交易撤销错误"},
		{model.CodeAgentError, "代理商错误"},
		{model.CodeTradeConfigError, "商户交易配置错误"},
		{model.CodeNetworkError, "网络异常"},

		{model.TradeSuccess, "成功"},
		{model.TradeFail, "失败"},
		{model.TradeNeedQuery, "需要查询"},
		{model.TradeRefund, "转入退款"},
		{model.TradeProcessing, "处理中"},

		{model.PayWeChat, "微信"},
		{model.PayAlipay, "支付宝"},
		{model.PayUnion, "云闪付"},
		{model.PayECNY, "数字人民币"},
		{model.PayLongPay, "龙支付"},
		{model.PayBestPay, "翼支付"},
		{model.PayJDPay, "京东支付"},

		{model.RefundSuccess, "退款成功"},
		{model.RefundFail, "退款失败"},
		{model.RefundProcessing, "退款处理中"},
		{model.RefundNotSure, "未确定，需要用原退款单号重新发起"},
		{model.RefundChange, "转入代发，需人工处理"},
	}
	for _, tt := range tests {
		m, ok := tt.code.Meaning()
		if !ok || m.ZH != tt.zh || m.EN == "" {
			t.Errorf("%T %v: got %+v, %v; want ZH %q and an English meaning", tt.code, tt.code, m, ok, tt.zh)
		}
	}

	unknown := []interface{ Meaning() (model.Meaning, bool) }{
		model.State("success"), model.Code("10007"), model.Code(""), model.TradeState("CLOSED"),
		model.PayType("QQ"), model.PayType("wechat"), model.RefundStatus("DONE"),
	}
	for _, c := range unknown {
		if m, ok := c.Meaning(); ok || m != (model.Meaning{}) {
			t.Errorf("%T %q: got %+v, %v; want unknown", c, c, m, ok)
		}
	}
}

func TestPreOrderable(t *testing.T) {
	t.Parallel()
	for p, want := range map[model.PayType]bool{
		model.PayWeChat: true, model.PayAlipay: true, model.PayECNY: true,
		model.PayUnion: false, model.PayLongPay: false, model.PayBestPay: false, model.PayJDPay: false, "wechat": false,
	} {
		if got := p.PreOrderable(); got != want {
			t.Errorf("%s.PreOrderable(): got %v, want %v", p, got, want)
		}
	}
}

func TestVersionValid(t *testing.T) {
	t.Parallel()
	for v, want := range map[model.Version]bool{model.V1: true, model.V2: true, "v3": false, "": false, "V2": false} {
		if got := v.Valid(); got != want {
			t.Errorf("Version(%q).Valid(): got %v, want %v", v, got, want)
		}
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state      model.State
		code       model.Code
		tradeState model.TradeState
		want       model.Outcome
	}{
		{model.StateSuccess, model.CodeSuccess, model.TradeSuccess, model.OutcomePaid},
		{model.StateSuccess, "", model.TradeSuccess, model.OutcomePaid},
		{model.StateSuccess, model.CodePaying, model.TradeNeedQuery, model.OutcomePending},
		{model.StateSuccess, model.CodePaying, model.TradeSuccess, model.OutcomePending},
		{model.StateSuccess, model.CodeNotPaid, "", model.OutcomePending},
		{model.StateSuccess, "", model.TradeNeedQuery, model.OutcomePending},
		{model.StateSuccess, "", model.TradeProcessing, model.OutcomePending},
		{model.StateSuccess, model.CodeRefunded, model.TradeSuccess, model.OutcomeRefunded},
		{model.StateSuccess, "", model.TradeRefund, model.OutcomeRefunded},
		{model.StateSuccess, model.CodeClosed, model.TradeFail, model.OutcomeClosed},
		{model.StateSuccess, model.CodeCancelled, "", model.OutcomeClosed},
		{model.StateSuccess, model.CodePayError, model.TradeFail, model.OutcomeClosed},
		{model.StateSuccess, "", model.TradeFail, model.OutcomeClosed},
		{model.StateSuccess, model.CodeOrderNotFound, model.TradeSuccess, model.OutcomeUnknown},
		{model.StateSuccess, model.CodeSystemError, "", model.OutcomeUnknown},
		{model.StateSuccess, "", "", model.OutcomeUnknown},
		{model.StateSuccess, "99999", model.TradeSuccess, model.OutcomeUnknown},
		{model.StateFail, model.CodeSuccess, model.TradeSuccess, model.OutcomeUnknown},
		{model.StateVer, model.CodeSuccess, model.TradeSuccess, model.OutcomeUnknown},
		{"", model.CodeSuccess, model.TradeSuccess, model.OutcomeUnknown},
	}
	for _, tt := range tests {
		r := model.OrderQueryResponse{Envelope: model.Envelope{State: tt.state, Code: tt.code, TradeState: tt.tradeState}}
		if got := r.Outcome(); got != tt.want {
			t.Errorf("Outcome(%q, %q, %q): got %v, want %v", tt.state, tt.code, tt.tradeState, got, tt.want)
		}
	}
}

func TestOutcomeNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		o     model.Outcome
		name  string
		final bool
	}{
		{model.OutcomeUnknown, "unknown", false},
		{model.OutcomePending, "pending", false},
		{model.OutcomePaid, "paid", true},
		{model.OutcomeRefunded, "refunded", true},
		{model.OutcomeClosed, "closed", true},
		{model.Outcome(99), "invalid", false},
		{model.Outcome(-1), "invalid", false},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.name {
			t.Errorf("Outcome(%d).String(): got %q, want %q", int(tt.o), got, tt.name)
		}
		if got := tt.o.Final(); got != tt.final {
			t.Errorf("Outcome(%d).Final(): got %v, want %v", int(tt.o), got, tt.final)
		}
	}
}
