package model

// State is the communication status (通讯状态) of every response.
type State string

// States.
const (
	StateSuccess State = "SUCCESS" // 成功
	StateFail    State = "FAIL"    // 失败
	StateVer     State = "VER"     // 版本过低: the caller's version is too old
)

// Code is the gateway's status code (状态码).
type Code string

// Codes of parameters.md. 1xxxx describe a trade, 2xxxx a failed request,
// 30001 the network.
const (
	CodeSuccess          Code = "10000"
	CodePaying           Code = "10001"
	CodeRefunded         Code = "10002"
	CodeNotPaid          Code = "10003"
	CodeClosed           Code = "10004"
	CodeCancelled        Code = "10005"
	CodePayError         Code = "10006"
	CodeSignError        Code = "20002"
	CodeResponseSign     Code = "20003"
	CodeBadParam         Code = "20004"
	CodeMerchantError    Code = "20005"
	CodeSystemError      Code = "20006"
	CodeOrderNotFound    Code = "20007"
	CodeRefundError      Code = "20008"
	CodeQueryError       Code = "20009"
	CodeRefundQueryError Code = "20010"
	CodeCancelError      Code = "20011"
	CodeAgentError       Code = "20012"
	CodeTradeConfigError Code = "20013"
	CodeNetworkError     Code = "30001"
)

// TradeState is the trade status (交易状态).
type TradeState string

// Trade states. Processing is no longer listed by the gateway but is still
// used by its bill download.
const (
	TradeSuccess    TradeState = "SUCCESS"
	TradeFail       TradeState = "FAIL"
	TradeNeedQuery  TradeState = "NEED_QUERY"
	TradeRefund     TradeState = "REFUND"
	TradeProcessing TradeState = "PROCESSING"
)

// PayType is the payment channel (paytype). The kit takes pre-orders for
// WECHAT, ALIPAY and ECNY; the others appear in queries and bills.
type PayType string

// Pay types, upper-case as the current documents spell them.
const (
	PayWeChat  PayType = "WECHAT"
	PayAlipay  PayType = "ALIPAY"
	PayUnion   PayType = "UNIONPAY"
	PayECNY    PayType = "ECNY"
	PayLongPay PayType = "LONGPAY"
	PayBestPay PayType = "BESTPAY"
	PayJDPay   PayType = "JDPAY"
)

// RefundStatus is the status of one refund in a refund query.
type RefundStatus string

// Refund statuses.
const (
	RefundSuccess    RefundStatus = "SUCCESS"
	RefundFail       RefundStatus = "FAIL"
	RefundProcessing RefundStatus = "PROCESSING"
	// RefundNotSure: re-issue the refund with the same out_refund_no.
	RefundNotSure RefundStatus = "NOTSURE"
	// RefundChange: the card is frozen or closed; the money went back to
	// the merchant and needs manual handling.
	RefundChange RefundStatus = "CHANGE"
)

// Meaning is a code's Chinese and English meaning.
type Meaning struct {
	// ZH is the meaning as the gateway's documents give it, in Chinese.
	ZH string
	// EN is the meaning in English.
	EN string
}

var stateMeanings = map[State]Meaning{
	StateSuccess: {"成功", "success"},
	StateFail:    {"失败", "failed"},
	StateVer:     {"版本过低", "caller version too old"},
}

var codeMeanings = map[Code]Meaning{
	CodeSuccess:          {"成功", "success"},
	CodePaying:           {"支付中", "paying"},
	CodeRefunded:         {"转入退款", "turned to refund"},
	CodeNotPaid:          {"未支付", "not paid"},
	CodeClosed:           {"已关闭", "closed"},
	CodeCancelled:        {"已撤销", "cancelled"},
	CodePayError:         {"支付错误", "payment error"},
	CodeSignError:        {"签名错误", "bad request sign"},
	CodeResponseSign:     {"响应结果签名错误", "response sign error"},
	CodeBadParam:         {"参数错误", "bad parameter"},
	CodeMerchantError:    {"商户错误", "merchant error"},
	CodeSystemError:      {"系统错误", "system error"},
	CodeOrderNotFound:    {"订单不存在", "order not found"},
	CodeRefundError:      {"退款错误", "refund error"},
	CodeQueryError:       {"交易查询错误", "query error"},
	CodeRefundQueryError: {"退款查询错误", "refund query error"},
	CodeCancelError:      {"交易撤销错误", "cancel error"},
	CodeAgentError:       {"代理商错误", "agent error"},
	CodeTradeConfigError: {"商户交易配置错误", "merchant trade configuration error"},
	CodeNetworkError:     {"网络异常", "network error"},
}

var tradeStateMeanings = map[TradeState]Meaning{
	TradeSuccess:    {"成功", "success"},
	TradeFail:       {"失败", "failed"},
	TradeNeedQuery:  {"需要查询", "query needed"},
	TradeRefund:     {"转入退款", "turned to refund"},
	TradeProcessing: {"处理中", "processing"},
}

var payTypeMeanings = map[PayType]Meaning{
	PayWeChat:  {"微信", "WeChat Pay"},
	PayAlipay:  {"支付宝", "Alipay"},
	PayUnion:   {"云闪付", "UnionPay QuickPass"},
	PayECNY:    {"数字人民币", "e-CNY"},
	PayLongPay: {"龙支付", "CCB LongPay"},
	PayBestPay: {"翼支付", "BestPay"},
	PayJDPay:   {"京东支付", "JD Pay"},
}

var refundStatusMeanings = map[RefundStatus]Meaning{
	RefundSuccess:    {"退款成功", "refunded"},
	RefundFail:       {"退款失败", "refund failed"},
	RefundProcessing: {"退款处理中", "refund processing"},
	RefundNotSure:    {"未确定，需要用原退款单号重新发起", "not sure: retry with the same out_refund_no"},
	RefundChange:     {"转入代发，需人工处理", "returned to merchant: manual handling"},
}

// Meaning returns the documented meaning and whether s is known.
func (s State) Meaning() (Meaning, bool) { m, ok := stateMeanings[s]; return m, ok }

// Meaning returns the documented meaning and whether c is known.
func (c Code) Meaning() (Meaning, bool) { m, ok := codeMeanings[c]; return m, ok }

// Meaning returns the documented meaning and whether t is known.
func (t TradeState) Meaning() (Meaning, bool) { m, ok := tradeStateMeanings[t]; return m, ok }

// Meaning returns the documented meaning and whether p is known.
func (p PayType) Meaning() (Meaning, bool) { m, ok := payTypeMeanings[p]; return m, ok }

// Meaning returns the documented meaning and whether r is known.
func (r RefundStatus) Meaning() (Meaning, bool) { m, ok := refundStatusMeanings[r]; return m, ok }

// PreOrderable reports whether the kit can take a pre-order on p.
func (p PayType) PreOrderable() bool { return p == PayWeChat || p == PayAlipay || p == PayECNY }
