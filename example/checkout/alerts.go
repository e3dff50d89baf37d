package main

import (
	"context"
	"sync"
	"time"

	"github.com/cypaykit/kit/handler"
)

// keptAlerts is how many alerts the back office remembers.
const keptAlerts = 200

// alertLog keeps this instance's latest alerts for the back office, newest
// last. It lives in memory: a restart forgets them and each instance
// shows its own, so the log line every alert also writes (and the
// metrics, with -metrics) stay the record.
type alertLog struct {
	mu   sync.Mutex
	now  func() time.Time
	list []alertEntry
}

// alertEntry is one alert as GET /admin/alerts shows it: when, and every
// field of handler.Alert that is set.
type alertEntry struct {
	At                  time.Time `json:"at"`
	Kind                string    `json:"kind"`
	Source              string    `json:"source"`
	OutTradeNo          string    `json:"out_trade_no,omitempty"`
	BusinessID          string    `json:"business_id,omitempty"`
	OtherOutTradeNo     string    `json:"other_out_trade_no,omitempty"`
	OutRefundNo         string    `json:"out_refund_no,omitempty"`
	MchID               string    `json:"mch_id,omitempty"`
	GotMchID            string    `json:"got_mch_id,omitempty"`
	WantAmount          int64     `json:"want_amount,omitempty"`
	GotAmount           int64     `json:"got_amount,omitempty"`
	Status              string    `json:"status,omitempty"`
	TransactionID       string    `json:"transaction_id,omitempty"`
	StoredTransactionID string    `json:"stored_transaction_id,omitempty"`
	Count               int       `json:"count,omitempty"`
}

func newAlertLog(now func() time.Time) *alertLog { return &alertLog{now: now} }

// add is the Settler's and the Refunder's Alert hook.
func (l *alertLog) add(_ context.Context, a handler.Alert) {
	e := alertEntry{
		At: l.now(), Kind: string(a.Kind), Source: string(a.Source),
		OutTradeNo: a.OutTradeNo, BusinessID: a.BusinessID, OtherOutTradeNo: a.OtherOutTradeNo, OutRefundNo: a.OutRefundNo,
		MchID: a.MchID, GotMchID: a.GotMchID, WantAmount: a.WantAmount, GotAmount: a.GotAmount, Status: a.Status,
		TransactionID: a.TransactionID, StoredTransactionID: a.StoredTransactionID, Count: a.Count,
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.list) == keptAlerts {
		l.list = append(l.list[:0], l.list[1:]...)
	}
	l.list = append(l.list, e)
}

// recent returns the kept alerts, newest first.
func (l *alertLog) recent() []alertEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]alertEntry, len(l.list))
	for i, e := range l.list {
		out[len(l.list)-1-i] = e
	}
	return out
}
