// Package gatewaytest runs an in-process simulator of the UnifiedPay (超赢)
// gateway on loopback, shaped like net/http/httptest: pre-orders, order
// query, cancel, refund, refund query, and signed payment notifications
// (异步通知) with the gateway's retry schedule, plus fault injection.
//
// # Endpoints
//
//   - POST /v2/UnifiedPay/Gateway, routed on method (PreOrder_WECHAT,
//     PreOrder_ALIPAY, PreOrder_ECNY, orderquery, cancel, refund,
//     refundquery; any letter case), signed with the merchant key of mch_id.
//   - POST /UnifiedPay/Gateway (v1): the same methods, agent_id required,
//     signed with the agent key.
//   - POST /Open/WECHAT_PreOrder and /Open/ALIPAY_PreOrder (legacy
//     pre-orders, agent key, no method).
//
// Only the form-encoded POST body is read and verified; the query string is
// ignored. A request is checked in the gateway's order: a missing or bad
// sign is {"state":"FAIL","code":"20002","msg":"签名错误"}; missing or invalid
// parameters (pid, version, a name given twice, model.Validate's rules) are
// 20004; an unknown merchant 20005; a wrong agent_id 20012. The key depends
// on the caller, so identity comes first where it must: a v2 request
// without mch_id is 20004 and one with an unknown mch_id is 20005 before
// its sign can be checked, and a v1 request without agent_id is 20004.
// Failures are unsigned; every state=SUCCESS reply is signed with the
// request's key over all its top-level members. All JSON values are
// strings.
//
// # Orders
//
// out_trade_no is unique across the whole simulator (Pay and the other
// methods take it alone), so a repeated one is 20004 whatever the merchant.
// Orders move UNPAID → PAYING (BeginPayment) → PAID (Pay) or PAYFAILED
// (FailPayment); cancel closes an unpaid one (CLOSED) or reverses a paid
// one (CANCELLED) within CancelWindow by Config.Now; refunds make it
// REFUNDED. An order pre-ordered with time_start and time_expire, both (as
// Alipay requires), is CLOSED once still unpaid at time_expire by
// Config.Now and Advance: Pay refuses it. orderquery answers each state with the code and trade_state
// that model.OrderQueryResponse.Outcome classifies correctly.
//
// # Notifications
//
// Pay and FailPayment post the notification built by NotificationValues to
// the order's notify_url, signed with the key of the endpoint that created
// the order, on RetrySchedule × Config.TimeScale, until a reply body is
// exactly "success" within the reply deadline. Every attempt is recorded
// as a Delivery; WaitIdle waits for them to end, Close cancels them.
//
// # A party on the path
//
// OnPath is an http.RoundTripper for client.Config.HTTPClient that stands
// between the kit and the gateway and rewrites the replies of chosen calls
// (StripSign, Set, Drop, Resign, Replace; RewriteEach to choose per
// request), to prove that no unsigned, badly signed or re-cut reply
// changes the kit's state (guarantee G14).
package gatewaytest
