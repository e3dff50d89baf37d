// Package model holds the UnifiedPay (超赢) messages as Go types: the v2
// unified and legacy pre-orders (主扫预下单), order query, cancel, refund,
// refund query and the WeChat / Alipay payment notifications (异步通知),
// with their code tables.
//
// Every type carries `schema` tags for form encoding (gorilla/schema) and
// `validate` tags for validator/v10. Amounts are int64 fen; times travel as
// yyyyMMddHHmmss strings in GMT+8 (see ParseTime and FormatTime).
package model
