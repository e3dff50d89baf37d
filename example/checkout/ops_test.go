package main

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// opsShop is a notify handler over a SQLite -db with the inbox and the
// history on, as the demo wires them, and one PENDING attempt.
type opsShop struct {
	db      string // the -db flag
	settler *handler.Settler
	srv     *httptest.Server
	orders  store.OrderStore
	otn     string
}

func newOpsShop(t *testing.T) *opsShop {
	t.Helper()
	ctx := context.Background()
	db := "sqlite:" + filepath.Join(t.TempDir(), "ops.db")
	st, locker, _, closeDB, err := openStore(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeDB() })
	settler, err := handler.NewSettler(handler.SettlerConfig{
		Store: st, Locker: locker, Inbox: st.(store.InboxStore), Events: st.(store.EventStore), Instance: "shop-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	notify, err := handler.NewNotify(handler.NotifyConfig{Settler: settler,
		Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{demoMchID: demoMchKey})}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(notify)
	t.Cleanup(srv.Close)
	now := time.Now()
	o := &store.Order{OutTradeNo: "OPSBIZ1A01", BusinessID: "OPSBIZ1", Attempt: 1, MchID: demoMchID,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2, Amount: 2599,
		Status: store.Pending, CreatedAt: now, UpdatedAt: now}
	if err := st.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	return &opsShop{db: db, settler: settler, srv: srv, orders: st, otn: o.OutTradeNo}
}

// notify posts a notification signed with key and returns the reply.
func (s *opsShop) notify(t *testing.T, key string, amount int64) string {
	t.Helper()
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{Channel: model.PayWeChat, MchID: demoMchID,
		OutTradeNo: s.otn, TotalFee: amount}, key, "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(s.srv.URL, "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	s.flush(t)
	return b.String()
}

// flush waits for the kept notification to be written.
func (s *opsShop) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.settler.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// ops runs an operator command and returns its exit code and output.
func (s *opsShop) ops(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runOps(context.Background(), args, func(string) string { return s.db }, &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestOpsInboxAndEvents(t *testing.T) {
	s := newOpsShop(t)
	if got := s.notify(t, "not-the-merchant-key-0123456789ab", 2599); got == "success" {
		t.Fatal("a forged notification was answered success")
	}
	if got := s.notify(t, demoMchKey, 2599); got != "success" {
		t.Fatalf("genuine notification: got %q", got)
	}
	code, out := s.ops(t, "inbox", "ls")
	if code != 0 || !strings.Contains(out, s.otn) || !strings.Contains(out, "settled") || !strings.Contains(out, "25.99") ||
		strings.Count(out, s.otn) != 1 {
		t.Fatalf("inbox ls: exit %d\n%s\nwant exit 0 and the one verified notification, settled, 25.99", code, out)
	}
	if code, out := s.ops(t, "inbox", "ls", "-failed"); code != 0 || strings.Contains(out, s.otn) {
		t.Fatalf("inbox ls -failed: exit %d\n%s\nwant no item: the only kept one was answered success", code, out)
	}
	if code, out := s.ops(t, "inbox", "ls", "-since", "2099-01-01T00:00:00Z"); code != 0 || strings.Contains(out, s.otn) {
		t.Fatalf("inbox ls -since the future: exit %d\n%s\nwant no item", code, out)
	}
	code, out = s.ops(t, "inbox", "show", "1")
	if code != 0 || !strings.Contains(out, "out_trade_no="+s.otn) || !strings.Contains(out, "reply:         success") ||
		!strings.Contains(out, "instance:      shop-1") {
		t.Fatalf("inbox show 1: exit %d\n%s\nwant the raw body, the reply and the instance", code, out)
	}
	code, out = s.ops(t, "events", s.otn)
	if code != 0 || !strings.Contains(out, "PAID") || !strings.Contains(out, "notified") || !strings.Contains(out, "inbox 1") {
		t.Fatalf("events: exit %d\n%s\nwant PAID and the notified event from inbox 1", code, out)
	}
	if code, _ := s.ops(t, "events", "NOSUCH0001"); code != 1 {
		t.Fatalf("events of an unknown attempt: exit %d, want 1", code)
	}
	if code, _ := s.ops(t, "inbox", "show", "x"); code != 2 {
		t.Fatalf("inbox show x: exit %d, want 2", code)
	}
}

// TestOpsReplay: a replay posts the kept bytes and the shop decides
// again: a genuine copy is a duplicate, answered success; the same item
// with its stored body altered is refused, because its sign no longer
// matches: nothing in a replay vouches for a notification but its sign.
func TestOpsReplay(t *testing.T) {
	s := newOpsShop(t)
	if got := s.notify(t, demoMchKey, 2599); got != "success" {
		t.Fatalf("genuine notification: got %q", got)
	}
	code, out := s.ops(t, "replay", "1", "-to", s.srv.URL)
	if code != 0 || !strings.Contains(out, "HTTP 200") || !strings.Contains(out, "success") {
		t.Fatalf("replay 1: exit %d\n%s\nwant success from the shop", code, out)
	}
	s.flush(t)
	items, err := s.orders.(store.InboxStore).ListInbox(context.Background(), store.InboxQuery{})
	if err != nil || len(items) != 2 || items[0].Outcome != "duplicate" || !bytes.Equal(items[0].Body, items[1].Body) {
		t.Fatalf("after the replay the inbox holds %d items (err %v); want the replayed copy, byte for byte, kept as a duplicate", len(items), err)
	}
	// Alter the kept body (what a tampered database would hold).
	kind, dsn, _ := splitDB(s.db)
	sqldb, err := sql.Open("sqlite", sqliteDSN(dsn))
	if err != nil || kind != dbSQLite {
		t.Fatal(err)
	}
	defer sqldb.Close()
	if _, err := sqldb.Exec("UPDATE cypay_inbox SET body = REPLACE(body, 'total_fee=2599', 'total_fee=1') WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	code, out = s.ops(t, "replay", "1", "-to", s.srv.URL)
	if code != 1 || strings.Contains(out, "\nsuccess\n") {
		t.Fatalf("replay of an altered body: exit %d\n%s\nwant the shop to refuse it (exit 1)", code, out)
	}
	if code, _ := s.ops(t, "replay", "1"); code != 2 {
		t.Fatalf("replay without -to: exit %d, want 2", code)
	}
}
