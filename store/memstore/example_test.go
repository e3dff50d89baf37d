package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// A notification delivered three times settles the attempt once; a
// different transaction for the same attempt is a conflict.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	s := memstore.New()
	err := s.Create(ctx, &store.Order{
		OutTradeNo: "ORDER42A001", BusinessID: "ORDER42", Attempt: 1,
		MchID: "755437000006", Channel: model.PayWeChat, TradeType: "NATIVE",
		Version: model.V2, Amount: 1999, Status: store.Pending,
		CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		panic(err)
	}

	p := store.Payment{TransactionID: "7554370000062026", PaidAt: now}
	for i := 0; i < 3; i++ {
		settled, err := s.Settle(ctx, "ORDER42A001", p, now)
		fmt.Println("settled:", settled, "err:", err)
	}
	_, err = s.Settle(ctx, "ORDER42A001", store.Payment{TransactionID: "other"}, now)
	fmt.Println("other transaction is a conflict:", errors.Is(err, store.ErrConflict))

	token, err := s.Acquire(ctx, "fulfil:ORDER42A001", 30*time.Second)
	if err != nil {
		panic(err)
	}
	// ... run the fulfilment hook, then record it:
	fmt.Println("mark fulfilled:", s.MarkFulfilled(ctx, "ORDER42A001", now))
	fmt.Println("release:", s.Release(ctx, "fulfil:ORDER42A001", token))
	fmt.Println("release again:", s.Release(ctx, "fulfil:ORDER42A001", token))
	// Output:
	// settled: true err: <nil>
	// settled: false err: <nil>
	// settled: false err: <nil>
	// other transaction is a conflict: true
	// mark fulfilled: <nil>
	// release: <nil>
	// release again: memstore: release "fulfil:ORDER42A001": store: lock not held
}
