package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// triggers maps a trigger to the simulator control route it posts to.
var triggers = map[string]string{
	"paid":      "/sim/pay/%s",
	"fail":      "/sim/fail/%s",
	"lost":      "/sim/pay/%s?notify=lost",
	"late":      "/sim/pay/%s?notify=late",
	"duplicate": "/sim/redeliver/%s",
}

// cmdTrigger drives a running `cypay sim` through its control routes.
func cmdTrigger(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("trigger", "[-sim URL] paid|fail|duplicate|late|lost OUT_TRADE_NO", stderr)
	sim := fs.String("sim", "http://127.0.0.1:8090", "the simulator's base URL ($CYPAY_SIM_URL)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("want a trigger (paid, fail, duplicate, late or lost) and an out_trade_no")
	}
	route, ok := triggers[fs.Arg(0)]
	if !ok {
		return usagef("unknown trigger %q: want paid, fail, duplicate, late or lost", fs.Arg(0))
	}
	base, err := simURL(fs, *sim)
	if err != nil {
		return err
	}
	return simPost(ctx, base+fmt.Sprintf(route, url.PathEscape(fs.Arg(1))), stdout)
}

// cmdClock shows, or with -advance moves, a running simulator's clock.
func cmdClock(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("clock", "[-sim URL] [-advance DURATION]", stderr)
	sim := fs.String("sim", "http://127.0.0.1:8090", "the simulator's base URL ($CYPAY_SIM_URL)")
	advance := fs.Duration("advance", 0, "move the clock forward, e.g. 5m (cancel window) or 3h7m (every notification retry)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *advance < 0 {
		return usagef("-advance must be positive")
	}
	base, err := simURL(fs, *sim)
	if err != nil {
		return err
	}
	if *advance == 0 {
		return simDo(ctx, http.MethodGet, base+"/sim/clock", stdout)
	}
	return simPost(ctx, base+"/sim/clock?advance="+url.QueryEscape(advance.String()), stdout)
}

// simURL is -sim, or $CYPAY_SIM_URL when -sim was not given.
func simURL(fs *flag.FlagSet, v string) (string, error) {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "sim" })
	if env := strings.TrimSpace(os.Getenv("CYPAY_SIM_URL")); !set && env != "" {
		v = env
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usagef("-sim %q is not an http(s) URL", v)
	}
	return strings.TrimRight(v, "/"), nil
}

func simPost(ctx context.Context, target string, stdout io.Writer) error {
	return simDo(ctx, http.MethodPost, target, stdout)
}

func simDo(ctx context.Context, method, target string, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("simulator answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	_, err = stdout.Write(b)
	return err
}
