package model

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	for i, it := range items {
		n := i + 1
		var id string
		if raw, ok := it["goods_id"]; !ok || json.Unmarshal(raw, &id) != nil || !goodsIDRE.MatchString(id) {
			return fmt.Sprintf("item %d: goods_id must be letters, digits, '_' or '-'", n)
		}
		if q, ok := jsonInt(it["quantity"]); !ok || q <= 0 {
			return fmt.Sprintf("item %d: quantity must be an integer above 0", n)
		}
		if p, ok := jsonInt(it["price"]); !ok || p < 0 {
			return fmt.Sprintf("item %d: price must be an integer number of fen, 0 or more", n)
		}
	}
	return ""
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
