package handler

import (
	"context"
	"log/slog"

	"github.com/cypaykit/kit/store"
)

// signedFacts are a verified proof's payment facts as the gateway sent
// them, before the kit derives the cash paid. The notification and the
// order query both fill one, so that either path records the same
// store.MoneyFacts for the same payment.
type signedFacts struct {
	// trusted: every fact passed model.CheckFacts (for a query, the
	// client did not drop them).
	trusted                                          bool
	couponFee                                        int64
	feeType, bankType, subAppID, wxMchID, wxSubMchID string
}

// moneyFacts turns a proof's facts about a payment of amount fen into
// what the store records, or into none (Recorded false) with the reason:
// facts that could have been cut from another field, or a coupon_fee
// above the amount, which the gateway documents as impossible (代金券金额
// <= 订单金额). The cash paid is the amount minus the coupon, the one
// formula the gateway documents (for the notification; the query calls
// its total_fee 实付 without saying whether coupons are in it, and the
// formula applied to the amount due, base_fee, gives the same cash under
// either reading). The facts are bookkeeping: whatever becomes of them,
// the payment is settled.
func moneyFacts(amount int64, f signedFacts) (store.MoneyFacts, string) {
	switch {
	case !f.trusted:
		return store.MoneyFacts{}, "a payment fact is malformed or could be another field's cut"
	case f.couponFee > amount:
		return store.MoneyFacts{}, "coupon_fee exceeds the amount"
	}
	return store.MoneyFacts{
		Recorded:   true,
		CouponFee:  f.couponFee,
		CashFee:    amount - f.couponFee,
		FeeType:    f.feeType,
		BankType:   f.bankType,
		SubAppID:   f.subAppID,
		WxMchID:    f.wxMchID,
		WxSubMchID: f.wxSubMchID,
	}, ""
}

// logUnrecorded says, at warn, why a payment's money facts were not
// recorded; the payment itself is settled regardless.
func logUnrecorded(ctx context.Context, log *slog.Logger, source Source, outTradeNo, why string) {
	if why == "" {
		return
	}
	log.LogAttrs(ctx, slog.LevelWarn, "handler: payment settled without its money facts",
		slog.String("source", string(source)), slog.String("out_trade_no", outTradeNo), slog.String("why", why))
}
