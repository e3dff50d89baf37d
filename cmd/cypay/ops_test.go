package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/internal/skipnote"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
	"github.com/cypaykit/kit/store/sqlstore/sqlopen"
)

func TestMain(m *testing.M) { skipnote.Main(m, "cypay") }

// opsDB is a database the operator commands are tried on.
type opsDB struct {
	name   string
	url    string // the -db flag
	prefix string // the -table-prefix flag
}

// opsDBs is a fresh SQLite file, and PostgreSQL and MySQL / MariaDB at
// $CYPAY_TEST_POSTGRES and $CYPAY_TEST_MYSQL (their tests skip when the
// server does not answer, and fail under CI=true), each with tables of
// its own.
func opsDBs(t *testing.T) []opsDB {
	pg := os.Getenv("CYPAY_TEST_POSTGRES")
	if pg == "" {
		pg = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	my := os.Getenv("CYPAY_TEST_MYSQL")
	if my == "" {
		my = "root@tcp(127.0.0.1:3306)/test?parseTime=true"
	}
	c, err := mysql.ParseDSN(my) // the tests' variable is a driver DSN; -db takes a URL
	if err != nil {
		t.Fatalf("$CYPAY_TEST_MYSQL: %v", err)
	}
	myURL := url.URL{Scheme: "mysql", User: url.UserPassword(c.User, c.Passwd), Host: c.Addr, Path: "/" + c.DBName}
	var b [4]byte
	rand.Read(b[:])
	prefix := "cli" + hex.EncodeToString(b[:]) + "_"
	return []opsDB{
		{name: "sqlite", url: "sqlite:" + filepath.Join(t.TempDir(), "shop.db")},
		{name: "postgres", url: pg, prefix: prefix},
		{name: "mysql", url: myURL.String(), prefix: prefix},
	}
}

// opsShop is the kit's notification handler over one opsDB with the
// inbox and the history on, as a shop wires them, and one PENDING
// attempt of 25.99 yuan.
type opsShop struct {
	db       opsDB
	st       *sqlstore.Store
	settler  *handler.Settler
	srv      *httptest.Server
	otn      string
	received time.Time // before the first notification
}

const opsMchID = "00000001"

func newOpsShop(t *testing.T, db opsDB) *opsShop {
	t.Helper()
	ctx := context.Background()
	target, err := sqlopen.Parse(db.url)
	if err != nil {
		t.Fatal(err)
	}
	sqldb, err := target.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqldb.Close() })
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		env := map[sqlstore.Dialect]string{sqlstore.Postgres: "CYPAY_TEST_POSTGRES", sqlstore.MySQL: "CYPAY_TEST_MYSQL"}[target.Dialect]
		if env == "" || os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v", target, err)
		}
		skipnote.Note(env)
		t.Skipf("%s unreachable (set $%s to point at one): %v", target.Dialect, env, err)
	}
	st, err := sqlstore.New(sqldb, sqlstore.Config{Dialect: target.Dialect, TablePrefix: db.prefix})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(pctx); err != nil {
		t.Fatal(err)
	}
	if db.prefix != "" {
		t.Cleanup(func() { dropTables(t, sqldb, target.Dialect, db.prefix) })
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	settler, err := handler.NewSettler(handler.SettlerConfig{Store: st, Locker: st, Inbox: st, Events: st,
		Instance: "shop-1", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: settler, Logger: quiet,
		Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{opsMchID: testKey})}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n)
	t.Cleanup(srv.Close)
	now := time.Now()
	o := &store.Order{OutTradeNo: "OPSBIZ1A01", BusinessID: "OPSBIZ1", Attempt: 1, MchID: opsMchID,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2, Amount: 2599,
		Status: store.Pending, CreatedAt: now, UpdatedAt: now}
	if err := st.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	return &opsShop{db: db, st: st, settler: settler, srv: srv, otn: o.OutTradeNo, received: now}
}

// dropTables drops every table of the store's schema under prefix.
func dropTables(t *testing.T, db *sql.DB, d sqlstore.Dialect, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range regexp.MustCompile(`CREATE TABLE (?:IF NOT EXISTS )?(\w+)`).FindAllStringSubmatch(sqlstore.Schema(d, prefix), -1) {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+m[1]); err != nil {
			t.Errorf("drop %s: %v", m[1], err)
		}
	}
}

// notify posts a notification of amount signed with key, through a
// proxy that names the gateway, and returns the reply once the inbox
// holds it.
func (s *opsShop) notify(t *testing.T, key string, amount int64) string {
	t.Helper()
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{Channel: model.PayWeChat, MchID: opsMchID,
		OutTradeNo: s.otn, TotalFee: amount}, key, "")
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.srv.URL, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	req.Header.Set("User-Agent", "UnifiedPay-Notify/2.0")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	s.flush(t)
	return string(reply)
}

// flush waits for the kept notifications to be written.
func (s *opsShop) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.settler.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// cli runs cypay with -db and -table-prefix of the shop's database
// appended, and returns the exit code and both outputs.
func (s *opsShop) cli(t *testing.T, args ...string) (int, string) {
	t.Helper()
	args = append(args, "-db", s.db.url)
	if s.db.prefix != "" {
		args = append(args, "-table-prefix", s.db.prefix)
	}
	code, out, errOut := runCLI(t, "", args...)
	return code, out + errOut
}

// inboxIDs are the IDs in the first column of inbox ls, in order.
func inboxIDs(out string) []string {
	return regexp.MustCompile(`(?m)^(\d+) `).FindAllString(out, -1)
}

// TestOpsCommands: on every database, an empty inbox says so; a forged
// notification leaves no row; a verified one with a wrong amount is kept
// and answered fail (-failed finds it), the genuine one settles; -since
// cuts by the time received; show prints the raw body and the kept
// headers; events answers why the attempt is PAID; a bad ID, an unknown
// ID and an unknown attempt fail with the right exit status.
func TestOpsCommands(t *testing.T) {
	for _, db := range opsDBs(t) {
		t.Run(db.name, func(t *testing.T) {
			s := newOpsShop(t, db)
			code, out := s.cli(t, "inbox", "ls")
			if code != 0 || !strings.Contains(out, "no notifications kept") {
				t.Fatalf("inbox ls of an empty inbox: exit %d\n%s\nwant exit 0 and a line saying so", code, out)
			}
			if got := s.notify(t, "not-the-merchant-key-0123456789ab", 2599); got == "success" {
				t.Fatal("a forged notification was answered success")
			}
			if got := s.notify(t, testKey, 1); got == "success" {
				t.Fatal("a notification of the wrong amount was answered success")
			}
			if got := s.notify(t, testKey, 2599); got != "success" {
				t.Fatalf("genuine notification: got %q", got)
			}
			// An item kept two days ago, for -since.
			old := &store.InboxItem{ReceivedAt: time.Now().Add(-48 * time.Hour), Instance: "shop-0", OutTradeNo: "OLDBIZ1A01",
				Amount: 100, ContentType: "application/x-www-form-urlencoded", Body: []byte("out_trade_no=OLDBIZ1A01"),
				Outcome: "settled", Reply: store.ReplySuccess, Status: http.StatusOK}
			oldID, err := s.st.AddInbox(context.Background(), old)
			if err != nil {
				t.Fatal(err)
			}

			code, out = s.cli(t, "inbox", "ls")
			if ids := inboxIDs(out); code != 0 || len(ids) != 3 || strings.Count(out, s.otn) != 2 ||
				!strings.Contains(out, "settled") || !strings.Contains(out, "25.99") || !strings.Contains(out, "0.01") {
				t.Fatalf("inbox ls: exit %d\n%s\nwant the two verified notifications (0.01 and 25.99, settled) and the old one, not the forged one", code, out)
			}
			code, out = s.cli(t, "inbox", "ls", "-failed")
			if code != 0 || len(inboxIDs(out)) != 1 || !strings.Contains(out, "0.01") || !strings.Contains(out, "fail") {
				t.Fatalf("inbox ls -failed: exit %d\n%s\nwant only the wrong amount, answered fail", code, out)
			}
			code, out = s.cli(t, "inbox", "ls", "-since", "24h")
			if code != 0 || len(inboxIDs(out)) != 2 || strings.Contains(out, "OLDBIZ1A01") {
				t.Fatalf("inbox ls -since 24h: exit %d\n%s\nwant today's two, not the one of two days ago", code, out)
			}
			code, out = s.cli(t, "inbox", "ls", "-since", time.Now().Add(-72*time.Hour).UTC().Format(time.RFC3339))
			if code != 0 || len(inboxIDs(out)) != 3 {
				t.Fatalf("inbox ls -since three days ago: exit %d\n%s\nwant all three", code, out)
			}
			if code, out := s.cli(t, "inbox", "ls", "-since", "2099-01-01T00:00:00Z"); code != 0 || len(inboxIDs(out)) != 0 {
				t.Fatalf("inbox ls -since the future: exit %d\n%s\nwant none", code, out)
			}
			if code, out := s.cli(t, "inbox", "ls", "-since", "yesterday"); code != 2 {
				t.Fatalf("inbox ls -since yesterday: exit %d\n%s\nwant 2", code, out)
			}
			code, out = s.cli(t, "inbox", "ls", "-limit", "1")
			if code != 0 || len(inboxIDs(out)) != 1 || !strings.Contains(out, "(more: -before ") {
				t.Fatalf("inbox ls -limit 1: exit %d\n%s\nwant one item and the next page's flag", code, out)
			}

			items, err := s.st.ListInbox(context.Background(), store.InboxQuery{OutTradeNo: s.otn})
			if err != nil || len(items) != 2 {
				t.Fatalf("ListInbox: %d items, %v", len(items), err)
			}
			settled := items[0]
			code, out = s.cli(t, "inbox", "show", itoa(settled.ID))
			for _, want := range []string{"out_trade_no=" + s.otn, "reply:         success", "instance:      shop-1",
				"header:        User-Agent: UnifiedPay-Notify/2.0", "header:        X-Forwarded-For: 203.0.113.9", string(settled.Body)} {
				if code != 0 || !strings.Contains(out, want) {
					t.Fatalf("inbox show %d: exit %d\n%s\nwant %q", settled.ID, code, out, want)
				}
			}
			code, out = s.cli(t, "events", s.otn)
			if code != 0 || !strings.Contains(out, "PAID") || !strings.Contains(out, "notified") ||
				!strings.Contains(out, "inbox "+itoa(settled.ID)) || !strings.Contains(out, "inbox "+itoa(items[1].ID)) {
				t.Fatalf("events: exit %d\n%s\nwant PAID and the two notified events with their inbox IDs", code, out)
			}
			if code, out := s.cli(t, "events", "NOSUCH0001"); code != 1 || !strings.Contains(out, `no attempt "NOSUCH0001"`) {
				t.Fatalf("events of an unknown attempt: exit %d\n%s\nwant 1 and no attempt", code, out)
			}
			for _, bad := range []string{"x", "0", "-3", "1.5"} {
				if code, out := s.cli(t, "inbox", "show", "--", bad); code != 2 {
					t.Fatalf("inbox show %s: exit %d\n%s\nwant 2", bad, code, out)
				}
			}
			if code, out := s.cli(t, "inbox", "show", itoa(oldID+1000)); code != 1 || !strings.Contains(out, "no inbox item") {
				t.Fatalf("inbox show of an unknown ID: exit %d\n%s\nwant 1 and no inbox item", code, out)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestOpsReplay: a replay posts the kept bytes with the kept headers
// (a server that records them proves it), and the shop decides again: a
// genuine copy is a duplicate, answered success and kept again, byte for
// byte; a row whose body was altered (what a tampered database would
// hold) is refused, because its sign no longer matches.
func TestOpsReplay(t *testing.T) {
	for _, db := range opsDBs(t) {
		t.Run(db.name, func(t *testing.T) {
			s := newOpsShop(t, db)
			if got := s.notify(t, testKey, 2599); got != "success" {
				t.Fatalf("genuine notification: got %q", got)
			}
			items, err := s.st.ListInbox(context.Background(), store.InboxQuery{})
			if err != nil || len(items) != 1 {
				t.Fatalf("ListInbox: %d items, %v", len(items), err)
			}
			kept := items[0]
			id := itoa(kept.ID)

			var got *http.Request
			var gotBody []byte
			recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r
				gotBody, _ = io.ReadAll(r.Body)
				io.WriteString(w, "success")
			}))
			defer recorder.Close()
			code, out := s.cli(t, "replay", id, "-to", recorder.URL+"/pay/notify")
			if code != 0 || got == nil {
				t.Fatalf("replay to a recorder: exit %d\n%s", code, out)
			}
			if !bytes.Equal(gotBody, kept.Body) || got.Method != http.MethodPost || got.URL.Path != "/pay/notify" {
				t.Fatalf("replay posted %s %s\n%q\nwant POST /pay/notify and the kept body byte for byte\n%q", got.Method, got.URL.Path, gotBody, kept.Body)
			}
			for name, want := range map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
				"User-Agent": "UnifiedPay-Notify/2.0", "X-Forwarded-For": "203.0.113.9"} {
				if v := got.Header.Get(name); v != want {
					t.Errorf("replay header %s: got %q, want the kept %q", name, v, want)
				}
			}

			code, out = s.cli(t, "replay", id, "-to", s.srv.URL)
			if code != 0 || !strings.Contains(out, "HTTP 200") || !strings.Contains(out, "\nsuccess\n") {
				t.Fatalf("replay %s to the shop: exit %d\n%s\nwant success", id, code, out)
			}
			s.flush(t)
			items, err = s.st.ListInbox(context.Background(), store.InboxQuery{})
			if err != nil || len(items) != 2 || items[0].Outcome != "duplicate" || !bytes.Equal(items[0].Body, kept.Body) {
				t.Fatalf("after the replay the inbox holds %d items (err %v); want the replayed copy, byte for byte, kept as a duplicate", len(items), err)
			}

			tampered := *kept
			tampered.Body = bytes.Replace(kept.Body, []byte("total_fee=2599"), []byte("total_fee=1"), 1)
			if bytes.Equal(tampered.Body, kept.Body) {
				t.Fatalf("no total_fee=2599 in %q", kept.Body)
			}
			tid, err := s.st.AddInbox(context.Background(), &tampered)
			if err != nil {
				t.Fatal(err)
			}
			code, out = s.cli(t, "replay", itoa(tid), "-to", s.srv.URL)
			if code != 1 || strings.Contains(out, "\nsuccess\n") {
				t.Fatalf("replay of an altered body: exit %d\n%s\nwant the shop to refuse it (exit 1)", code, out)
			}
			if code, out := s.cli(t, "replay", id); code != 2 {
				t.Fatalf("replay without -to: exit %d\n%s\nwant 2", code, out)
			}
			if code, out := s.cli(t, "replay", "x", "-to", s.srv.URL); code != 2 {
				t.Fatalf("replay x: exit %d\n%s\nwant 2", code, out)
			}
			if code, out := s.cli(t, "replay", itoa(tid+1000), "-to", s.srv.URL); code != 1 || !strings.Contains(out, "no inbox item") {
				t.Fatalf("replay of an unknown ID: exit %d\n%s\nwant 1", code, out)
			}
		})
	}
}

// TestOpsDBFlag: no -db is a usage error; a SQLite file that does not
// exist is an error and is not created (a typo must not look like an
// empty inbox); $CYPAY_DB stands in for -db; nothing but a database URL
// is taken.
func TestOpsDBFlag(t *testing.T) {
	t.Setenv("CYPAY_DB", "")
	if code, _, errOut := runCLI(t, "", "inbox", "ls"); code != 2 || !strings.Contains(errOut, "-db") {
		t.Errorf("inbox ls without -db: exit %d\n%s\nwant 2 and a word about -db", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "typo.db")
	if code, _, errOut := runCLI(t, "", "inbox", "ls", "-db", "sqlite:"+missing); code != 1 {
		t.Errorf("inbox ls on a missing file: exit %d\n%s\nwant 1", code, errOut)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("inbox ls created %s", missing)
	}
	if code, _, errOut := runCLI(t, "", "events", "X", "-db", "memory"); code != 2 {
		t.Errorf("-db memory: exit %d\n%s\nwant 2: a process's memory is no database to read", code, errOut)
	}
	s := newOpsShop(t, opsDBs(t)[0])
	t.Setenv("CYPAY_DB", s.db.url)
	if code, out, errOut := runCLI(t, "", "events", s.otn); code != 0 || !strings.Contains(out, "PENDING") {
		t.Errorf("events with $CYPAY_DB: exit %d\n%s%s\nwant the PENDING attempt", code, out, errOut)
	}
}
