package refund_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/refund"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// untouchedStore counts every call that reaches the store behind a
// Refunder: a request refused for its text must reach none, so that no
// store can answer it differently (PostgreSQL fails on a NUL that MariaDB
// keeps).
type untouchedStore struct {
	*memstore.Store
	calls atomic.Int32
}

func (s *untouchedStore) ReserveRefund(ctx context.Context, ref *store.Refund, lease time.Duration, now time.Time) (*store.Refund, bool, error) {
	s.calls.Add(1)
	return s.Store.ReserveRefund(ctx, ref, lease, now)
}

func (s *untouchedStore) ListByBusinessID(ctx context.Context, id string) ([]*store.Order, error) {
	s.calls.Add(1)
	return s.Store.ListByBusinessID(ctx, id)
}

func (s *untouchedStore) Get(ctx context.Context, otn string) (*store.Order, error) {
	s.calls.Add(1)
	return s.Store.Get(ctx, otn)
}

// TestRefundTextRefusedBeforeStore: every free-text field a refund request
// carries is refused with refund.ErrInvalid naming the field when it is not
// UTF-8, holds a control character (a NUL, a newline) or is too long,
// before any store call and any gateway call; the same request with a
// clean field refunds.
func TestRefundTextRefusedBeforeStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	otn := e.PaidAttempt(t, "TEXT1", 1000)
	st := &untouchedStore{Store: e.Mem}
	r := e.refunder(t, func(c *refund.Config) { c.Store, c.Refunds = st, st })
	ok := refund.Request{OutTradeNo: otn, Amount: 100, Reason: "买家取消 buyer cancelled", IdempotencyKey: "key-1"}
	tests := []struct {
		name  string
		field string
		edit  func(*refund.Request)
	}{
		{"NUL reason", "reason", func(q *refund.Request) { q.Reason = "cancelled\x00" }},
		{"newline reason", "reason", func(q *refund.Request) { q.Reason = "a\nb" }},
		{"reason not UTF-8", "reason", func(q *refund.Request) { q.Reason = "\xff\xfe" }},
		{"reason too long", "reason", func(q *refund.Request) { q.Reason = strings.Repeat("x", model.MaxText+1) }},
		{"NUL idempotency key", "idempotency key", func(q *refund.Request) { q.IdempotencyKey = "k\x00" }},
		{"idempotency key too long", "idempotency key", func(q *refund.Request) { q.IdempotencyKey = strings.Repeat("k", 129) }},
		{"NUL out_trade_no", "out_trade_no", func(q *refund.Request) { q.OutTradeNo = otn + "\x00" }},
		{"NUL order id", "order_id", func(q *refund.Request) { q.OutTradeNo, q.BusinessID = "", "TEXT1\x00" }},
		{"order id too long", "order_id", func(q *refund.Request) { q.OutTradeNo, q.BusinessID = "", strings.Repeat("T", 129) }},
	}
	for _, tc := range tests {
		req := ok
		tc.edit(&req)
		_, err := r.Refund(context.Background(), req)
		if !errors.Is(err, refund.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: got %v, want refund.ErrInvalid naming %s", tc.name, err, tc.field)
		}
	}
	if n := st.calls.Load(); n != 0 {
		t.Errorf("refused requests reached the store %d times, want 0", n)
	}
	if got := e.simRefunds(otn); len(got) != 0 {
		t.Errorf("refused requests reached the gateway: %+v", got)
	}
	if v := mustRefund(t, r, ok); v.Reason != ok.Reason {
		t.Errorf("clean request: got reason %q, want %q", v.Reason, ok.Reason)
	}
}

// TestRefundOutTradeNoShape: an out_trade_no of the kit's shape (5 to 32
// ASCII letters and digits, both ends of each range included) goes on to
// the store, which does not know these and says so; anything else,
// however close (4 or 33 characters, the character just outside each
// range), is ErrInvalid before any store sees it.
func TestRefundOutTradeNoShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.refunder(t, nil)
	for _, otn := range []string{"09azAZ", "00000", "99999", "aaaaa", "zzzzz", "AAAAA", "ZZZZZ", strings.Repeat("z", 32)} {
		if _, err := r.Refund(context.Background(), refund.Request{OutTradeNo: otn, Amount: 1}); !errors.Is(err, handler.ErrOrderNotFound) {
			t.Errorf("out_trade_no %q: got %v, want handler.ErrOrderNotFound from the store", otn, err)
		}
	}
	for _, otn := range []string{"Z999", strings.Repeat("z", 33), "AAAA/", "AAAA:", "AAAA`", "AAAA{", "AAAA@", "AAAA[", "AAAA-1"} {
		if _, err := r.Refund(context.Background(), refund.Request{OutTradeNo: otn, Amount: 1}); !errors.Is(err, refund.ErrInvalid) {
			t.Errorf("out_trade_no %q: got %v, want ErrInvalid", otn, err)
		}
	}
}
