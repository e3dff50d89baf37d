// Command notifybench measures the notification handler's duplicate path
// against a bare net/http form handler, both driven by the external load
// generator wrk in the same run (issue 8, point 5; BENCHMARKS.md). It is a
// tool, not part of the kit: nothing imports it.
//
//	go run ./cmd/notifybench -rounds 3 -duration 5s -threads 2 -conns 32
//
// It serves both handlers on loopback, settles one order so that every
// request is a duplicate of a PAID, fulfilled order, checks that each
// server answers success, then runs wrk against each in turn (alternating
// which goes first each round) and prints requests per second and the
// kit / bare ratio per round and over all rounds.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

const (
	mchID     = "M100001"
	key       = "merchant-key-a-0123456789abcdef"
	formType  = "application/x-www-form-urlencoded"
	orderNo   = "BENCH00000001"
	orderFee  = 1000
	replyOK   = "success"
	maxRounds = 20
)

// bare is the baseline: parse the form, answer success.
var bare = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("out_trade_no") == "" {
		http.Error(w, "fail", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, replyOK)
})

func main() {
	rounds := flag.Int("rounds", 3, "rounds; each runs wrk once against each server")
	duration := flag.Duration("duration", 5*time.Second, "wrk duration per run")
	threads := flag.Int("threads", 2, "wrk threads")
	conns := flag.Int("conns", 32, "wrk connections")
	together := flag.Bool("together", false, "run both loads at the same time instead of one after the other")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.IntVar(&memo, "memo", 0, "NotifyConfig.DuplicateMemo: 0 the default, -1 none (every copy reads the store)")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "notifybench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "notifybench:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(*rounds, *duration, *threads, *conns, *together); err != nil {
		fmt.Fprintln(os.Stderr, "notifybench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(rounds int, d time.Duration, threads, conns int, together bool) error {
	if rounds < 1 || rounds > maxRounds {
		return fmt.Errorf("rounds must be 1-%d", maxRounds)
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk not found (apt-get install wrk)")
	}
	kit, body, err := duplicateKit()
	if err != nil {
		return err
	}
	script, err := luaScript(body)
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(script))
	bareURL, stopBare, err := serve(bare)
	if err != nil {
		return err
	}
	defer stopBare()
	kitURL, stopKit, err := serve(kit)
	if err != nil {
		return err
	}
	defer stopKit()
	for _, u := range []string{bareURL, kitURL} {
		if err := expectSuccess(u, body); err != nil {
			return err
		}
	}
	mode := "one after the other"
	if together {
		mode = "both at once"
	}
	fmt.Printf("wrk -t%d -c%d -d%s per server, %d rounds, %s, body %d bytes\n", threads, conns, d, rounds, mode, len(body))
	var bareSum, kitSum float64
	var ratios []float64
	for r := range rounds {
		order := []string{"bare", "kit"}
		if r%2 == 1 {
			order = []string{"kit", "bare"}
		}
		rate := map[string]float64{}
		if together {
			// Both loads at once: whatever else the machine runs hits both
			// alike, at the price of sharing the server process's CPUs.
			type res struct {
				name string
				rps  float64
				err  error
			}
			ch := make(chan res, 2)
			for _, name := range order {
				u := bareURL
				if name == "kit" {
					u = kitURL
				}
				go func() {
					rps, err := wrk(u, script, d, threads, conns)
					ch <- res{name, rps, err}
				}()
			}
			for range order {
				x := <-ch
				if x.err != nil {
					return fmt.Errorf("%s: %w", x.name, x.err)
				}
				rate[x.name] = x.rps
			}
			order = nil
		}
		for _, name := range order {
			u := bareURL
			if name == "kit" {
				u = kitURL
			}
			rps, err := wrk(u, script, d, threads, conns)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			rate[name] = rps
		}
		bareSum += rate["bare"]
		kitSum += rate["kit"]
		ratios = append(ratios, rate["kit"]/rate["bare"])
		fmt.Printf("round %d: bare %.0f req/s, kit %.0f req/s, kit/bare %.3f\n", r+1, rate["bare"], rate["kit"], rate["kit"]/rate["bare"])
	}
	slices.Sort(ratios)
	fmt.Printf("overall: bare %.0f req/s, kit %.0f req/s, kit/bare %.3f (median round %.3f)\n",
		bareSum/float64(rounds), kitSum/float64(rounds), kitSum/bareSum, ratios[len(ratios)/2])
	return nil
}

// memo is the kit handler's NotifyConfig.DuplicateMemo (-memo).
var memo int

// duplicateKit returns a Notify on memstore whose one order is PAID and
// fulfilled, and the signed notification body that duplicates it.
func duplicateKit() (http.Handler, string, error) {
	m := memstore.New()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := handler.NewSettler(handler.SettlerConfig{Store: m, Locker: m, Logger: logger,
		Fulfill: func(context.Context, store.Order) error { return nil }})
	if err != nil {
		return nil, "", err
	}
	h, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Logger: logger, DuplicateMemo: memo,
		Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{mchID: key})}})
	if err != nil {
		return nil, "", err
	}
	now := time.Now()
	if err := m.Create(context.Background(), &store.Order{OutTradeNo: orderNo, BusinessID: orderNo, Attempt: 1,
		MchID: mchID, Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: orderFee, Status: store.Pending, CreatedAt: now, UpdatedAt: now}); err != nil {
		return nil, "", err
	}
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{MchID: mchID, OutTradeNo: orderNo,
		TotalFee: orderFee, TransactionID: "T" + orderNo}, key, "")
	if err != nil {
		return nil, "", err
	}
	return h, v.Encode(), nil
}

func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/notify", func() { _ = srv.Close() }, nil
}

// expectSuccess posts body once; the first call settles the kit's order.
func expectSuccess(u, body string) error {
	for range 2 {
		resp, err := http.Post(u, formType, strings.NewReader(body))
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != replyOK {
			return fmt.Errorf("%s answered %d %q, want %s", u, resp.StatusCode, b, replyOK)
		}
	}
	return nil
}

func luaScript(body string) (string, error) {
	dir, err := os.MkdirTemp("", "notifybench")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "post.lua")
	src := fmt.Sprintf("wrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = %q\n", body, formType)
	return p, os.WriteFile(p, []byte(src), 0o600)
}

// wrk runs one load and returns its requests per second; any non-2xx
// reply or socket error fails the run.
func wrk(u, script string, d time.Duration, threads, conns int) (float64, error) {
	cmd := exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns),
		"-d"+strconv.Itoa(int(d.Seconds()))+"s", "-s", script, u)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("wrk: %w: %s", err, out.String())
	}
	rps := -1.0
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Requests/sec:"):
			rps, _ = strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, "Requests/sec:")), 64)
		case strings.HasPrefix(line, "Non-2xx"), strings.HasPrefix(line, "Socket errors"):
			return 0, fmt.Errorf("wrk reported %q", line)
		}
	}
	if rps <= 0 {
		return 0, fmt.Errorf("no Requests/sec in wrk output: %s", out.String())
	}
	return rps, nil
}
