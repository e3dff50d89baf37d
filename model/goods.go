package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// goodsDetailProblem says what is wrong with a goods_detail value, or ""
// when it is a JSON array whose every item has a goods_id of letters,
// digits, '_' or '-', an integer quantity above 0 and an integer price
// (fen) of 0 or more. Quantities and prices must be JSON numbers, as the
// gateway documents them; the wording never repeats the value.
func goodsDetailProblem(s string) string {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &items); err != nil || items == nil {
		return "must be a JSON array of goods objects"
	}
	if !Signable(s) {
		return "must not hold a '%' or spaces at either end: the gateway unescapes and trims values before it signs them"
	}
	var sum int64
	for i, it := range items {
		n := i + 1
		var id string
		if raw, ok := it["goods_id"]; !ok || json.Unmarshal(raw, &id) != nil || !goodsIDRE.MatchString(id) {
			return fmt.Sprintf("item %d: goods_id must be letters, digits, '_' or '-'", n)
		}
		if q, ok := jsonInt(it["quantity"]); !ok || q <= 0 {
			return fmt.Sprintf("item %d: quantity must be an integer above 0", n)
		}
		q, _ := jsonInt(it["quantity"])
		p, ok := jsonInt(it["price"])
		if !ok || p < 0 {
			return fmt.Sprintf("item %d: price must be an integer number of fen, 0 or more", n)
		}
		if p > 0 && (q > math.MaxInt64/p || sum > math.MaxInt64-q*p) {
			return fmt.Sprintf("item %d: the items' quantity × price add up beyond any amount", n)
		}
		sum += q * p
	}
	return ""
}

// EncodeGoods writes items as a goods_detail value, the JSON array the
// gateway documents ({"goods_id","pay_goods_id","goods_name","quantity",
// "price"}), and checks it as Validate would: each item's goods_id,
// quantity above 0 and price in fen 0 or more, and a total that fits an
// int64. The items need not add up to the order's total_fee: the gateway
// does not ask it (its own example happens to). No items is "".
func EncodeGoods(items []GoodsDetail) (string, error) {
	if len(items) == 0 {
		return "", nil
	}
	b, err := json.Marshal(items)
	if err != nil {
		return "", fmt.Errorf("model: goods_detail: %w", err)
	}
	if p := goodsDetailProblem(string(b)); p != "" {
		return "", &ValidationError{Fields: []FieldError{{Field: "goods_detail", Rule: "goods_detail", Message: "goods_detail " + p}}}
	}
	return string(b), nil
}

// jsonInt reads a JSON number that is an integer ("2", not "2.0", "2e0"
// or the string "2").
func jsonInt(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == '"' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil
}
