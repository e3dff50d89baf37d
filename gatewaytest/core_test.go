package gatewaytest

import (
	"testing"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

func TestPreOrderPayQueryNotify(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	rc := newReceiver(t)
	mustPreOrder(t, s, "ORDER10001", rc.notifyURL())

	q := v2("orderquery", "mch_id", mch1, "paytype", "WECHAT", "out_trade_no", "ORDER10001")
	r := call(t, s.URL, "/v2/UnifiedPay/Gateway", q, key1)
	if r["code"] != "10003" || r["trade_state"] != "NEED_QUERY" || !isSigned(r, key1) {
		t.Fatalf("unpaid query: got %v, want signed 10003/NEED_QUERY", r)
	}

	if err := s.Pay("ORDER10001"); err != nil {
		t.Fatal(err)
	}
	if !s.WaitIdle(10 * time.Second) {
		t.Fatal("deliveries did not finish")
	}
	if !s.Settled("ORDER10001") {
		t.Fatalf("not settled; deliveries %+v", s.Deliveries("ORDER10001"))
	}
	ds := s.Deliveries("ORDER10001")
	if len(ds) != 1 || !ds[0].OK || ds[0].Attempt != 1 || ds[0].Status != 200 {
		t.Fatalf("got deliveries %+v, want one OK attempt", ds)
	}
	got := rc.received()
	if len(got) != 1 {
		t.Fatalf("receiver got %d notifications, want 1", len(got))
	}
	if err := sign.Verify(got[0], sign.MD5, key1); err != nil {
		t.Fatalf("notification does not verify with the merchant key: %v", err)
	}
	n, err := model.DecodeNotification(got[0])
	if err != nil {
		t.Fatal(err)
	}
	if !n.Paid() || n.TotalFee != 100 || n.MchID != mch1 || n.OutTradeNo != "ORDER10001" || n.TradeType != "pay.weixin.native" {
		t.Fatalf("notification %+v does not describe the payment", n)
	}

	r = call(t, s.URL, "/v2/UnifiedPay/Gateway", v2("orderquery", "mch_id", mch1, "paytype", "WECHAT", "out_trade_no", "ORDER10001"), key1)
	if r["code"] != "10000" || r["trade_state"] != "SUCCESS" || r["transaction_id"] != n.TransactionID || r["total_fee"] != "100" || !isSigned(r, key1) {
		t.Fatalf("paid query: got %v", r)
	}
	o, ok := s.Order("ORDER10001")
	if !ok || o.State != PaidState || o.Version != model.V2 || o.TransactionID != n.TransactionID {
		t.Fatalf("got order %+v", o)
	}
}
