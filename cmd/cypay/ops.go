package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
	"github.com/cypaykit/kit/store/sqlstore/sqlopen"
)

// The operator's commands read the notification inbox and the attempts'
// history that a shop keeps in its sqlstore database (-db, as the demo
// shop takes it). They read only: no migration, no write. replay posts a
// kept notification to a shop, which decides again.
//
//	cypay inbox ls [-failed] [-since 1h|2026-12-07T10:00:00Z] [-limit 50] [-before ID] -db DB
//	cypay inbox show ID -db DB
//	cypay events OUT_TRADE_NO -db DB
//	cypay replay ID -to URL -db DB

// dbFlags are the flags of every command that reads the shop's database.
type dbFlags struct {
	fs     *positionalFlags
	db     string
	prefix string
}

// positionalFlags is a flag set whose flags may also follow the
// positional arguments: "inbox show 12 -db sqlite:x" works as well as
// "inbox show -db sqlite:x 12".
type positionalFlags struct{ *flag.FlagSet }

func newPositionalFlags(name, synopsis string, stderr io.Writer) *positionalFlags {
	return &positionalFlags{newFlags(name, synopsis, stderr)}
}

// parse parses the flags wherever they stand and returns the positional
// arguments.
func (f *positionalFlags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(f.FlagSet, args); err != nil {
			return nil, err
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

func newDBFlags(name, synopsis string, stderr io.Writer) *dbFlags {
	f := &dbFlags{fs: newPositionalFlags(name, synopsis, stderr)}
	f.fs.StringVar(&f.db, "db", os.Getenv("CYPAY_DB"),
		"the shop's database: sqlite:PATH, postgres://… or mysql://user:pass@host:port/db ($CYPAY_DB)")
	f.fs.StringVar(&f.prefix, "table-prefix", "", "table prefix of the kit's tables (default cypay_)")
	return f
}

// historyStores is what the commands read.
type historyStores struct {
	orders store.OrderStore
	inbox  store.InboxStore
	events store.EventStore
	db     *sql.DB
}

// open opens -db without migrating it: an operator's read never changes
// the shop's schema. A SQLite file that does not exist is an error, not
// a new empty database.
func (f *dbFlags) open(ctx context.Context) (*historyStores, error) {
	if f.db == "" {
		return nil, usagef("-db is empty: name the shop's database (or set $CYPAY_DB)")
	}
	target, err := sqlopen.Parse(f.db)
	if err != nil {
		return nil, usagef("-db %v", err)
	}
	if target.Path != "" {
		if _, err := os.Stat(target.Path); err != nil {
			return nil, fmt.Errorf("-db %s: %w", target, err)
		}
	}
	db, err := target.Open()
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %w", target, err)
	}
	s, err := sqlstore.New(db, sqlstore.Config{Dialect: target.Dialect, TablePrefix: f.prefix})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &historyStores{orders: s, inbox: s, events: s, db: db}, nil
}

func (h *historyStores) close() { h.db.Close() }

// cmdInbox runs "inbox ls" and "inbox show".
func cmdInbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("want inbox ls or inbox show ID")
	}
	switch args[0] {
	case "ls":
		return inboxList(ctx, args[1:], stdout, stderr)
	case "show":
		return inboxShow(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, "Usage:\n  cypay inbox ls [-failed] [-since DURATION|RFC3339] [-limit N] [-before ID] -db DB\n  cypay inbox show ID -db DB\n")
		return nil
	}
	return usagef("unknown inbox command %q: want ls or show", args[0])
}

// parseSince reads -since: a duration back from now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("-since %q: want a duration (1h) or an RFC 3339 time (2026-12-07T10:00:00Z)", s)
	}
	return t, nil
}

func inboxList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newDBFlags("inbox ls", "[-failed] [-since DURATION|RFC3339] [-limit N] [-before ID] -db DB", stderr)
	failed := f.fs.Bool("failed", false, "only notifications not answered success")
	since := f.fs.String("since", "", "only notifications received since: a duration back from now (1h) or an RFC 3339 time")
	limit := f.fs.Int("limit", 50, "at most this many, newest first")
	before := f.fs.Int64("before", 0, "only IDs below this one: the next page after the last ID shown")
	pos, err := f.fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("inbox ls takes no arguments, got %q", pos[0])
	}
	if *limit < 1 {
		return usagef("-limit %d: want 1 or more", *limit)
	}
	from, err := parseSince(*since, time.Now())
	if err != nil {
		return err
	}
	h, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer h.close()
	items, err := h.inbox.ListInbox(ctx, store.InboxQuery{Since: from, FailedOnly: *failed, Limit: *limit, Before: *before})
	if err != nil {
		return err
	}
	if len(items) == 0 {
		fmt.Fprintln(stdout, "no notifications kept (the inbox keeps only those that verified)")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED (UTC)\tOUT_TRADE_NO\tAMOUNT\tOUTCOME\tREPLY\tCOPIES\tINSTANCE")
	for _, it := range items {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", it.ID, it.ReceivedAt.UTC().Format(time.RFC3339),
			it.OutTradeNo, yuan(it.Amount), it.Outcome, it.Reply, it.Copies, it.Instance)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(items) == *limit {
		fmt.Fprintf(stdout, "(more: -before %d)\n", items[len(items)-1].ID)
	}
	return nil
}

// yuan formats an amount in fen as yuan.
func yuan(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// item parses the flags and the one inbox ID of args and reads that item.
func (f *dbFlags) item(ctx context.Context, args []string) (*store.InboxItem, error) {
	pos, err := f.fs.parse(args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		return nil, usagef("want one inbox ID (see cypay inbox ls)")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return nil, usagef("inbox ID %q is not a positive number", pos[0])
	}
	h, err := f.open(ctx)
	if err != nil {
		return nil, err
	}
	defer h.close()
	it, err := h.inbox.GetInbox(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no inbox item %d (kept items: cypay inbox ls)", id)
	}
	return it, err
}

func inboxShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newDBFlags("inbox show", "ID -db DB", stderr)
	it, err := f.item(ctx, args)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "id:            %d\nreceived:      %s\ninstance:      %s\nout_trade_no:  %s\namount:        %s\n",
		it.ID, it.ReceivedAt.UTC().Format(time.RFC3339Nano), it.Instance, it.OutTradeNo, yuan(it.Amount))
	fmt.Fprintf(stdout, "outcome:       %s\nreply:         %s (HTTP %d)\n", it.Outcome, it.Reply, it.Status)
	if it.Err != "" {
		fmt.Fprintf(stdout, "error:         %s\n", it.Err)
	}
	fmt.Fprintf(stdout, "copies:        %d (answered from the duplicate memo)\nremote:        %s\ncontent-type:  %s\n",
		it.Copies, it.RemoteAddr, it.ContentType)
	for _, line := range strings.Split(it.Headers, "\n") {
		if line != "" {
			fmt.Fprintf(stdout, "header:        %s\n", line)
		}
	}
	fmt.Fprintf(stdout, "body (%d bytes):\n%s\n", len(it.Body), it.Body)
	return nil
}

func cmdEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newDBFlags("events", "OUT_TRADE_NO -db DB", stderr)
	pos, err := f.fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one OUT_TRADE_NO")
	}
	h, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer h.close()
	hist, err := handler.LoadHistory(ctx, h.orders, h.events, pos[0])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no attempt %q in %s", pos[0], f.db)
	}
	if err != nil {
		return err
	}
	o := hist.Order
	fmt.Fprintf(stdout, "%s  %s  amount %s  business order %s attempt %d", o.OutTradeNo, o.Status, yuan(o.Amount), o.BusinessID, o.Attempt)
	if o.Reason != "" {
		fmt.Fprintf(stdout, "  reason: %s", o.Reason)
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT (UTC)\tEVENT\tSOURCE\tOUTCOME\tAMOUNT\tINSTANCE\tDETAIL")
	for _, e := range hist.Events {
		detail := e.Detail
		if e.InboxID != 0 {
			detail = fmt.Sprintf("inbox %d, replied %s", e.InboxID, e.Detail)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.Kind, e.Source, e.Outcome,
			yuan(e.Amount), e.Instance, detail)
	}
	return tw.Flush()
}

// notReplayed are kept header lines a replay does not send: the HTTP
// client writes its own framing, and the kept Content-Type is sent apart.
var notReplayed = []string{"Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection"}

// cmdReplay posts a kept notification's body, byte for byte, with its
// content type and its kept headers, to -to and prints the reply. The
// shop decides again: the body carries the gateway's sign, and nothing
// else vouches for it.
func cmdReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newDBFlags("replay", "ID -to URL -db DB", stderr)
	to := f.fs.String("to", "", "the notify_url to post the notification to (required)")
	timeout := f.fs.Duration("timeout", 10*time.Second, "how long to wait for the reply")
	it, err := f.item(ctx, args)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(*to, "http://") && !strings.HasPrefix(*to, "https://") {
		return usagef("-to %q: want the shop's http(s) notify_url", *to)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *to, bytes.NewReader(it.Body))
	if err != nil {
		return usagef("-to %q: %v", *to, err)
	}
	req.Header.Set("Content-Type", it.ContentType)
	for _, line := range strings.Split(it.Headers, "\n") {
		name, value, ok := strings.Cut(line, ": ")
		if !ok || name == "" || containsFold(notReplayed, name) {
			continue
		}
		req.Header.Add(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replayed inbox %d (%s, %d bytes) to %s\nHTTP %d\n%s\n", it.ID, it.OutTradeNo, len(it.Body), *to, resp.StatusCode, reply)
	if string(reply) != "success" {
		return errors.New("the shop did not answer success")
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
