package handler

import "time"

// paidFact is what the store held when the duplicate memo learnt of an
// attempt whose payment is settled and fulfilled: its merchant, amount and
// transaction id, and the key that verified the notification that found
// it so. A copy of that notification (the gateway sends each several
// times) can then be answered the way the store would answer it,
// Duplicate, without reading the store and without the goroutine that
// guards a store call (G5): no call the memo makes can block.
//
// The memo (an internal/memo.Memo of out_trade_no, bounded in attempts and
// time) is sound on any number of instances because what it remembers
// never stops being true: PAID, and PAID and fulfilled, are final in every
// store (a refund moves PAID to REFUNDED, which the Settler answers
// Duplicate too). It only ever saves a store read; anything that does not
// match the remembered facts exactly goes the whole way.
type paidFact struct {
	mchID, transactionID string
	amount               int64
	key                  string // the key that verified; the order's kind of key
	inboxID              int64  // the kept notification copies are counted on; 0: none
}

// defaultMemoSize and memoTTL are NotifyConfig.DuplicateMemo's defaults:
// after memoTTL the store is asked again.
const (
	defaultMemoSize = 4096
	memoTTL         = 10 * time.Minute
)
