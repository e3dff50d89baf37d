package store

import (
	"context"
	"sort"
	"time"
)

// InboxItem is one notification whose sign verified, kept as it arrived so
// that an operator can read it, and replay it, long after the gateway
// stopped sending it. Requests whose sign did not verify are never kept:
// a forged flood costs no row.
type InboxItem struct {
	// ID is assigned by AddInbox; later items have larger IDs.
	ID int64
	// ReceivedAt is when the handler decided its reply.
	ReceivedAt time.Time
	// Instance names the process that received it (a host name).
	Instance string
	// OutTradeNo is the notification's out_trade_no ("" when it had none).
	OutTradeNo string
	// Amount is the notification's total_fee in fen (0 when it had none).
	Amount int64
	// ContentType is the request's Content-Type, so that a replay posts
	// exactly what arrived.
	ContentType string
	// RemoteAddr is the peer's address as the server saw it.
	RemoteAddr string
	// Headers are the other request headers worth reading later (the
	// User-Agent and the forwarding headers), one "Name: value" per line.
	Headers string
	// Body is the raw request body, byte for byte.
	Body []byte
	// Outcome is the handler's outcome (handler.Outcome's name: settled,
	// duplicate, mismatch, ...).
	Outcome string
	// Reply is the body answered: "success" or "fail".
	Reply string
	// Status is the HTTP status of the reply.
	Status int
	// Err says why the reply is not success ("" when it is).
	Err string
	// Copies counts later copies of this notification that were answered
	// from the handler's duplicate memo, without a store read, and so
	// were not kept again. It may lag by up to one reconciler pass.
	Copies int64
}

// ReplySuccess is InboxItem.Reply for a notification answered success.
const ReplySuccess = "success"

// InboxQuery selects inbox items, newest first.
type InboxQuery struct {
	// Since, when not zero, takes only items received at or after it.
	Since time.Time
	// FailedOnly takes only items whose Reply is not ReplySuccess.
	FailedOnly bool
	// OutTradeNo, when not empty, takes only that attempt's items.
	OutTradeNo string
	// Before, when not zero, takes only items with an ID below it: pass
	// the last ID of one page to get the next.
	Before int64
	// Limit bounds the items returned; below 1 means 100.
	Limit int
}

// InboxStore keeps verified notifications (the inbox). It is optional: a
// store that implements it can be given to handler.SettlerConfig.Inbox.
// Every method is safe for concurrent use and honours ctx like
// OrderStore's; items handed out are copies.
type InboxStore interface {
	// AddInbox keeps a copy of it (its ID and Copies are ignored) and
	// returns its new ID.
	AddInbox(ctx context.Context, it *InboxItem) (int64, error)
	// AddInboxCopies adds n to the Copies of item id. An unknown id (one
	// pruned meanwhile) is ErrNotFound.
	AddInboxCopies(ctx context.Context, id, n int64) error
	// GetInbox returns item id, or ErrNotFound.
	GetInbox(ctx context.Context, id int64) (*InboxItem, error)
	// ListInbox returns the items q selects, newest (highest ID) first;
	// none is an empty slice.
	ListInbox(ctx context.Context, q InboxQuery) ([]*InboxItem, error)
	// PruneInbox deletes at most limit items received before before,
	// oldest first, and returns how many it deleted.
	PruneInbox(ctx context.Context, before time.Time, limit int) (int, error)
}

// InboxBatcher is an InboxStore that keeps several items in one write.
// It is optional: the handler's background writer uses it, when the
// Inbox implements it, to keep the notifications queued meanwhile with
// one statement and one commit instead of one each. sqlstore.Store and
// memstore.Store implement it.
type InboxBatcher interface {
	InboxStore
	// AddInboxBatch keeps a copy of every item (their IDs and Copies are
	// ignored), all or none, and returns their new IDs in the items'
	// order, ascending: a later item has a larger ID. No items is no
	// write and an empty slice.
	AddInboxBatch(ctx context.Context, items []*InboxItem) ([]int64, error)
}

// EventKind names what happened to an attempt.
type EventKind string

// Event kinds.
const (
	// EventCreated: the attempt was recorded, before the gateway call.
	EventCreated EventKind = "created"
	// EventPreOrdered: the gateway answered the pre-order (Outcome ok) or
	// refused it (Outcome refused, Detail its reason).
	EventPreOrdered EventKind = "preordered"
	// EventNotified: a verified notification (InboxID names it). Its
	// Outcome is the handler's: settled means this notification moved the
	// attempt to PAID and the fulfilment ran.
	EventNotified EventKind = "notified"
	// EventQueried: the reconciler asked the gateway; Detail is the
	// gateway's answer (trade_state), Outcome what became of it.
	EventQueried EventKind = "queried"
	// EventFulfilled: a retried fulfilment hook returned nil, or failed
	// (Outcome hook_error).
	EventFulfilled EventKind = "fulfilled"
	// EventClosed: the attempt was closed (expired, cancelled) or failed;
	// Detail is the reason.
	EventClosed EventKind = "closed"
	// EventRefundRequested and EventRefundAnswered: a refund was asked
	// for (Amount), and what the gateway answered (Detail).
	EventRefundRequested EventKind = "refund_requested"
	EventRefundAnswered  EventKind = "refund_answered"
	// EventAlert: a validly signed message contradicted the stored
	// attempt; Detail is the alert kind, Amount what the message said.
	EventAlert EventKind = "alert"
)

// Event is one entry of an attempt's history. The history is evidence,
// not state: nothing decides on it, and a lost entry changes no outcome.
type Event struct {
	// ID is assigned by AddEvent (0 for an event made from an inbox item).
	ID int64
	// OutTradeNo is the attempt the event belongs to.
	OutTradeNo string
	// At is when it happened, by the recording instance's clock.
	At time.Time
	// Kind says what happened.
	Kind EventKind
	// Source is who learnt of it: notify, query, retry, refund, preorder.
	Source string
	// Outcome is what became of it (handler.Outcome's name, or ok).
	Outcome string
	// Amount is the amount the event is about, in fen (0 when none).
	Amount int64
	// Detail is the gateway's answer, an alert's kind or a reason.
	Detail string
	// Instance names the process that recorded it.
	Instance string
	// InboxID is, for EventNotified, the inbox item it was made from.
	InboxID int64
}

// EventStore keeps the attempts' histories. It is optional, like
// InboxStore; a store that implements both makes ListEvents show the
// inbox's items too.
type EventStore interface {
	// AddEvent records a copy of e (its ID is ignored).
	AddEvent(ctx context.Context, e *Event) error
	// ListEvents returns an attempt's history oldest first (by At, then
	// recorded order). A store that is also an InboxStore includes one
	// EventNotified per inbox item of the attempt, made from the item:
	// At its ReceivedAt, Source notify, Outcome and Amount its own,
	// Detail its Reply, InboxID its ID. None is an empty slice.
	ListEvents(ctx context.Context, outTradeNo string) ([]*Event, error)
	// PruneEvents deletes at most limit events recorded before before
	// (not inbox items), oldest first, and returns how many it deleted.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int, error)
}

// EventBatcher is an EventStore that records several events in one
// write, as InboxBatcher keeps several inbox items. sqlstore.Store and
// memstore.Store implement it.
type EventBatcher interface {
	EventStore
	// AddEvents records a copy of every event (their IDs are ignored),
	// all or none, in the given order: ListEvents shows events of equal
	// At in that order. No events is no write.
	AddEvents(ctx context.Context, evs []*Event) error
}

// NotifiedEvent is the EventNotified an inbox item stands for, as
// EventStore.ListEvents shows it.
func NotifiedEvent(it *InboxItem) *Event {
	return &Event{
		OutTradeNo: it.OutTradeNo, At: it.ReceivedAt, Kind: EventNotified,
		Source: "notify", Outcome: it.Outcome, Amount: it.Amount,
		Detail: it.Reply, Instance: it.Instance, InboxID: it.ID,
	}
}

// SortEvents orders an attempt's history as ListEvents returns it: by At,
// keeping the given order among equal times. Stores that merge events
// and inbox items use it.
func SortEvents(evs []*Event) {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
}
