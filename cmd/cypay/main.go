// Command cypay is the cypaykit command line: it computes and checks
// UnifiedPay (超赢) signatures, sends signed test notifications to a
// notify_url, runs the gateway simulator on loopback, and refunds or
// queries refunds at a gateway; and, on a shop's sqlstore database, lists
// and shows the notifications it kept, an attempt's history, and replays
// a kept notification to a shop.
//
// Usage:
//
//	cypay sign   [-key K] [-alg MD5] [-v] [k=v ...]
//	cypay verify [-key K] [-alg MD5] [k=v ...]
//	cypay notify -url U [-key K] -mch-id M -out-trade-no O -total-fee F [-channel WECHAT] ...
//	cypay sim    [-addr 127.0.0.1:8090] [-merchants ID=KEY,...] [-agent-id A -agent-key K] ...
//	cypay refund -gateway URL -mch-id M -out-trade-no O -out-refund-no R -total-fee F -refund-fee F
//	cypay refundquery -gateway URL -mch-id M -out-refund-no R
//	cypay trigger [-sim URL] paid|fail|duplicate|late|lost OUT_TRADE_NO
//	cypay clock  [-sim URL] [-advance 5m]
//	cypay check-endpoint -url U -mch-id M -out-trade-no O -total-fee F [-gateway URL]
//	cypay inbox ls [-failed] [-since 1h|RFC3339] [-limit N] [-before ID] -db DB
//	cypay inbox show ID -db DB
//	cypay events OUT_TRADE_NO -db DB
//	cypay replay ID -to URL -db DB
//
// -db names the shop's database as the demo shop takes it: sqlite:PATH,
// postgres://… or mysql://user:pass@host:port/database ($CYPAY_DB).
//
// sign and verify read the parameters from k=v arguments or, with none, a
// form-encoded body on stdin. A key not given with -key is read from
// CYPAY_KEY, which keeps it out of the process list and shell history.
// Run "cypay <command> -h" for each command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(runContext(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and the answer is "no"
	exitUsage = 2 // bad command line
)

const usage = `cypay: UnifiedPay (超赢) signing, test notifications and gateway simulator

Usage:
  cypay sign    compute the sign of parameters
  cypay verify  check the sign carried in parameters
  cypay notify  POST a signed payment notification to a notify_url
  cypay sim     run the gateway simulator on loopback
  cypay refund       ask the gateway to refund (part of) a paid order
  cypay refundquery  ask the gateway where a refund stands
  cypay trigger paid|fail|duplicate|late|lost OUT_TRADE_NO   drive a running simulator
  cypay clock   show or advance a running simulator's clock
  cypay check-endpoint  run a battery of genuine and forged notifications against a deployed notify_url
  cypay inbox ls     list the notifications a shop kept (-failed, -since)
  cypay inbox show   one kept notification: raw body, headers, reply
  cypay events       an attempt's history: why it is PAID or CLOSED
  cypay replay       re-deliver a kept notification to a shop (-to URL)
                     (these four read the shop's sqlstore database: -db or $CYPAY_DB)

Run "cypay <command> -h" for a command's flags.
`

// run is main without the process: tests call it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// runContext is run with a context that ends the sim command, so tests
// can stop it without a signal.
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "sign":
		err = cmdSign(args[1:], stdin, stdout, stderr)
	case "verify":
		err = cmdVerify(args[1:], stdin, stdout, stderr)
	case "notify":
		err = cmdNotify(ctx, args[1:], stdout, stderr)
	case "sim":
		err = cmdSim(ctx, args[1:], stdout, stderr)
	case "refund":
		err = cmdRefund(ctx, args[1:], stdout, stderr)
	case "refundquery":
		err = cmdRefundQuery(ctx, args[1:], stdout, stderr)
	case "trigger":
		err = cmdTrigger(ctx, args[1:], stdout, stderr)
	case "clock":
		err = cmdClock(ctx, args[1:], stdout, stderr)
	case "check-endpoint":
		err = cmdCheckEndpoint(ctx, args[1:], stdout, stderr)
	case "inbox":
		err = cmdInbox(ctx, args[1:], stdout, stderr)
	case "events":
		err = cmdEvents(ctx, args[1:], stdout, stderr)
	case "replay":
		err = cmdReplay(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "cypay: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "cypay %s: %v\n", args[0], err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "cypay %s: %v\n", args[0], err)
		return exitFail
	}
}

// usageError is a bad command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// newFlags returns a flag set that reports errors instead of exiting and
// prints its usage to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cypay "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cypay %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; a flag error (already printed by the flag package)
// becomes a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("bad flags")
	}
	return nil
}

// keyFlag returns the -key value or, when empty, $CYPAY_KEY.
func keyFlag(v string) string {
	if v != "" {
		return v
	}
	return strings.TrimSpace(os.Getenv("CYPAY_KEY"))
}
