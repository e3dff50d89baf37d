package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// RefundItems decodes RefundList, the JSON array the gateway carries
// inside a string. Amounts may arrive as JSON numbers or as strings
// holding one ("1" or 1); an empty or absent amount reads as 0. An empty
// RefundList gives no items and no error.
func (r *RefundQueryResponse) RefundItems() ([]RefundItem, error) {
	if len(bytes.TrimSpace([]byte(r.RefundList))) == 0 {
		return nil, nil
	}
	var raw []struct {
		SerialNo        flexString   `json:"serial_no"`
		RefundID        string       `json:"refund_id"`
		OutRefundID     string       `json:"out_refund_id"`
		OutRefundNo     string       `json:"out_refund_no"`
		RefundChannel   string       `json:"refund_channel"`
		BaseRefundFee   flexInt      `json:"base_refund_fee"`
		RefundFee       flexInt      `json:"refund_fee"`
		CouponRefundFee flexInt      `json:"coupon_refund_fee"`
		RefundStatus    RefundStatus `json:"refund_status"`
		RefundTime      string       `json:"refund_time"`
	}
	if err := json.Unmarshal([]byte(r.RefundList), &raw); err != nil {
		var fe *flexError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("model: refund_list: %w", fe)
		}
		return nil, errors.New("model: refund_list is not a JSON array of refunds")
	}
	items := make([]RefundItem, len(raw))
	for i, it := range raw {
		items[i] = RefundItem{
			SerialNo:        string(it.SerialNo),
			RefundID:        it.RefundID,
			OutRefundID:     it.OutRefundID,
			OutRefundNo:     it.OutRefundNo,
			RefundChannel:   it.RefundChannel,
			BaseRefundFee:   int64(it.BaseRefundFee),
			RefundFee:       int64(it.RefundFee),
			CouponRefundFee: int64(it.CouponRefundFee),
			RefundStatus:    it.RefundStatus,
			RefundTime:      it.RefundTime,
		}
	}
	return items, nil
}

// flexInt is an integer amount that the gateway may send as a JSON number
// or as a string holding one.
type flexInt int64

var errNotInteger = &flexError{}

// flexError reports an amount that is not an integer, without its value.
type flexError struct{}

func (*flexError) Error() string { return "an amount is not an integer number of fen" }

// UnmarshalJSON reads 3, "3", "", "  " (0) or null (0).
func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*f = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return errNotInteger
		}
		b = bytes.TrimSpace([]byte(s))
		if len(b) == 0 {
			*f = 0
			return nil
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return errNotInteger
	}
	*f = flexInt(n)
	return nil
}

// flexString is text that the gateway may send as a JSON string or a bare
// number; the documents show neither for serial_no, so both are read.
type flexString string

// UnmarshalJSON reads a JSON string, a number as written, or null.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexString(n.String())
	}
	return nil
}
