package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/store"
)

// The operator's commands read the inbox and the history of the -db the
// shop runs on. They live in this binary, not in cypay, because opening
// a database takes the SQL drivers, which the kit's root module (cypay's)
// does not depend on.
//
//	checkout inbox ls [-failed] [-since 1h|2026-12-07T10:00:00Z] [-limit 50] [-before ID]
//	checkout inbox show ID
//	checkout events OUT_TRADE_NO
//	checkout replay ID -to URL
const opsUsage = `Operator commands (each takes -db as the shop does):
  checkout inbox ls [-failed] [-since DURATION|RFC3339] [-limit N] [-before ID]
  checkout inbox show ID
  checkout events OUT_TRADE_NO
  checkout replay ID -to URL
`

// isOpsCommand reports whether args name an operator command.
func isOpsCommand(args []string) bool {
	return len(args) > 0 && (args[0] == "inbox" || args[0] == "events" || args[0] == "replay")
}

// errOpsUsage is a bad command line (exit 2).
var errOpsUsage = errors.New("usage")

// runOps runs an operator command; getenv supplies CYPAY_DB.
func runOps(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := ops(ctx, args, getenv, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errOpsUsage):
		fmt.Fprintf(stderr, "checkout %s: %v\n%s", args[0], err, opsUsage)
		return 2
	default:
		fmt.Fprintf(stderr, "checkout %s: %v\n", args[0], err)
		return 1
	}
}

// opsFlags are the flags every operator command takes.
type opsFlags struct {
	fs     *flag.FlagSet
	db     string
	prefix string
}

func newOpsFlags(name string, getenv func(string) string, stderr io.Writer) *opsFlags {
	f := &opsFlags{fs: flag.NewFlagSet("checkout "+name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	def := getenv("CYPAY_DB")
	if def == "" {
		def = defaultDB()
	}
	f.fs.StringVar(&f.db, "db", def, "database: sqlite:PATH, memory, postgres://… or mysql://… ($CYPAY_DB)")
	f.fs.StringVar(&f.prefix, "table-prefix", "", "table prefix of the kit's tables (default cypay_)")
	return f
}

// parse reads flags given before and after the positional arguments, so
// that "inbox show 12 -db sqlite:x" works as well as "inbox show -db
// sqlite:x 12".
func (f *opsFlags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return nil, err
		}
		args = f.fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// historyStores is what the commands read.
type historyStores struct {
	orders store.OrderStore
	inbox  store.InboxStore
	events store.EventStore
	close  func() error
}

func (f *opsFlags) open(ctx context.Context) (*historyStores, error) {
	st, _, _, closeDB, err := openStore(ctx, f.db, f.prefix)
	if err != nil {
		return nil, err
	}
	in, ok1 := st.(store.InboxStore)
	ev, ok2 := st.(store.EventStore)
	if !ok1 || !ok2 {
		closeDB()
		return nil, fmt.Errorf("-db %s keeps no inbox or history", f.db)
	}
	return &historyStores{orders: st, inbox: in, events: ev, close: closeDB}, nil
}

func ops(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	switch args[0] {
	case "inbox":
		if len(args) < 2 {
			return fmt.Errorf("%w: inbox ls or inbox show ID", errOpsUsage)
		}
		switch args[1] {
		case "ls":
			return inboxList(ctx, args[2:], getenv, stdout, stderr)
		case "show":
			return inboxShow(ctx, args[2:], getenv, stdout, stderr)
		}
		return fmt.Errorf("%w: unknown inbox command %q", errOpsUsage, args[1])
	case "events":
		return eventsList(ctx, args[1:], getenv, stdout, stderr)
	default:
		return replay(ctx, args[1:], getenv, stdout, stderr)
	}
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
		return time.Time{}, fmt.Errorf("%w: -since %q: want a duration (1h) or an RFC 3339 time", errOpsUsage, s)
	}
	return t, nil
}

func inboxList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newOpsFlags("inbox ls", getenv, stderr)
	failed := f.fs.Bool("failed", false, "only notifications not answered success")
	since := f.fs.String("since", "", "only notifications received since: a duration back from now (1h) or an RFC 3339 time")
	limit := f.fs.Int("limit", 50, "at most this many, newest first")
	before := f.fs.Int64("before", 0, "only IDs below this one: the next page after the last ID shown")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: inbox ls takes no arguments", errOpsUsage)
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
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED (UTC)\tOUT_TRADE_NO\tAMOUNT\tOUTCOME\tREPLY\tCOPIES\tINSTANCE")
	for _, it := range items {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", it.ID, it.ReceivedAt.UTC().Format(time.RFC3339),
			it.OutTradeNo, fen(it.Amount), it.Outcome, it.Reply, it.Copies, it.Instance)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(items) == *limit && *limit > 0 {
		fmt.Fprintf(stdout, "(more: -before %d)\n", items[len(items)-1].ID)
	}
	return nil
}

// fen formats an amount in fen as yuan.
func fen(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

func inboxID(pos []string) (int64, error) {
	if len(pos) != 1 {
		return 0, fmt.Errorf("%w: want one inbox ID", errOpsUsage)
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: inbox ID %q is not a positive number", errOpsUsage, pos[0])
	}
	return id, nil
}

// item parses the flags and the one inbox ID of args and reads that item.
func (f *opsFlags) item(ctx context.Context, args []string) (*store.InboxItem, error) {
	pos, err := f.parse(args)
	if err != nil {
		return nil, err
	}
	id, err := inboxID(pos)
	if err != nil {
		return nil, err
	}
	h, err := f.open(ctx)
	if err != nil {
		return nil, err
	}
	defer h.close()
	return h.inbox.GetInbox(ctx, id)
}

func inboxShow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newOpsFlags("inbox show", getenv, stderr)
	it, err := f.item(ctx, args)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "id:            %d\nreceived:      %s\ninstance:      %s\nout_trade_no:  %s\namount:        %s\n",
		it.ID, it.ReceivedAt.UTC().Format(time.RFC3339Nano), it.Instance, it.OutTradeNo, fen(it.Amount))
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

func eventsList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newOpsFlags("events", getenv, stderr)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: want one OUT_TRADE_NO", errOpsUsage)
	}
	h, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer h.close()
	hist, err := handler.LoadHistory(ctx, h.orders, h.events, pos[0])
	if err != nil {
		return err
	}
	o := hist.Order
	fmt.Fprintf(stdout, "%s  %s  amount %s  business order %s attempt %d", o.OutTradeNo, o.Status, fen(o.Amount), o.BusinessID, o.Attempt)
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
			fen(e.Amount), e.Instance, detail)
	}
	return tw.Flush()
}

// replay posts a kept notification's body, byte for byte, with its
// content type, to -to and prints the reply. The shop decides again:
// the body carries the gateway's sign, and nothing else vouches for it.
func replay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newOpsFlags("replay", getenv, stderr)
	to := f.fs.String("to", "", "the notify_url to post the notification to (required)")
	timeout := f.fs.Duration("timeout", 10*time.Second, "how long to wait for the reply")
	it, err := f.item(ctx, args)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(*to, "http://") && !strings.HasPrefix(*to, "https://") {
		return fmt.Errorf("%w: -to must be an http(s) URL", errOpsUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *to, bytes.NewReader(it.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", it.ContentType)
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
		return fmt.Errorf("the shop did not answer success")
	}
	return nil
}
