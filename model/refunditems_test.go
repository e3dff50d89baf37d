package model_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/model"
)

func TestRefundItems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		list string
		want []model.RefundItem
	}{
		{"empty", "", nil},
		{"blank", "  ", nil},
		{"empty array", "[]", []model.RefundItem{}},
		{
			"strings as the gateway documents them",
			`[{"serial_no":"1","refund_id":"R1","out_refund_id":"W1","out_refund_no":"TK-1497769914931-01","refund_channel":"ORIGINAL",` +
				`"base_refund_fee":"3","refund_fee":"3","coupon_refund_fee":"0","refund_status":"SUCCESS","refund_time":"2019-05-24 11:11:33"}]`,
			[]model.RefundItem{{
				SerialNo: "1", RefundID: "R1", OutRefundID: "W1", OutRefundNo: "TK-1497769914931-01", RefundChannel: "ORIGINAL",
				BaseRefundFee: 3, RefundFee: 3, CouponRefundFee: 0, RefundStatus: model.RefundSuccess, RefundTime: "2019-05-24 11:11:33",
			}},
		},
		{
			"numbers, null and empty amounts",
			`[{"serial_no":2,"base_refund_fee":100,"refund_fee":" 99 ","coupon_refund_fee":null,"refund_status":"PROCESSING"},` +
				`{"serial_no":null,"refund_fee":"","refund_status":"NOTSURE","refund_time":"20190524111133"}]`,
			[]model.RefundItem{
				{SerialNo: "2", BaseRefundFee: 100, RefundFee: 99, RefundStatus: model.RefundProcessing},
				{RefundStatus: model.RefundNotSure, RefundTime: "20190524111133"},
			},
		},
		{"large amount", `[{"refund_fee":"9007199254740993"}]`, []model.RefundItem{{RefundFee: 9007199254740993}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := model.RefundQueryResponse{RefundList: tt.list}
			got, err := r.RefundItems()
			if err != nil {
				t.Fatalf("RefundItems: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefundItemsErrors(t *testing.T) {
	t.Parallel()
	for _, list := range []string{
		`{"refund_fee":"3"}`,
		`[{"refund_fee":"3.5"}]`,
		`[{"refund_fee":3.5}]`,
		`[{"refund_fee":"1e3"}]`,
		`[{"refund_fee":"SECRETVAL"}]`,
		`[{"refund_fee":true}]`,
		`[{"refund_fee":"99999999999999999999"}]`,
		`[{"serial_no":{}}]`,
		`not json SECRETVAL`,
		`[`,
	} {
		r := model.RefundQueryResponse{RefundList: list}
		items, err := r.RefundItems()
		if err == nil || items != nil {
			t.Errorf("RefundItems(%s): got %v, %v; want an error", list, items, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "model: refund_list") || strings.Contains(err.Error(), "SECRETVAL") {
			t.Errorf("RefundItems(%s): error %q should name refund_list and not echo values", list, err)
		}
	}
}
