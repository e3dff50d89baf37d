package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseConfig(t *testing.T) {
	defaults := config{
		Addr:     "127.0.0.1:8080",
		DB:       defaultDB(),
		Gateway:  "sim",
		Version:  "v2",
		MchID:    demoMchID,
		MchKey:   demoMchKey,
		AgentID:  demoAgentID,
		AgentKey: demoAgentKey,
		Expire:   2 * time.Hour,
	}
	with := func(f func(c *config)) config {
		c := defaults
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{name: "defaults", want: defaults},
		{
			name: "every flag",
			args: []string{"-addr", ":9000", "-db", "postgres://u:p@db:5432/shop", "-gateway", "https://pay.example.com/",
				"-open-url", "https://open.example.com/",
				"-version", "v1", "-mch-id", "m1", "-mch-key", "mk", "-agent-id", "a1", "-agent-key", "ak",
				"-notify-url", "https://shop.example.com/pay/notify"},
			want: config{Addr: ":9000", DB: "postgres://u:p@db:5432/shop", Gateway: "https://pay.example.com", OpenURL: "https://open.example.com", Version: "v1",
				MchID: "m1", MchKey: "mk", AgentID: "a1", AgentKey: "ak", NotifyURL: "https://shop.example.com/pay/notify", Expire: 2 * time.Hour},
		},
		{
			name: "every variable",
			env: map[string]string{"CYPAY_ADDR": ":9001", "CYPAY_DB": "memory", "CYPAY_GATEWAY": "http://127.0.0.1:7000",
				"CYPAY_VERSION": "v1", "CYPAY_MCH_ID": "m2", "CYPAY_MCH_KEY": "mk2", "CYPAY_AGENT_ID": "a2",
				"CYPAY_AGENT_KEY": "ak2", "CYPAY_NOTIFY_URL": "http://10.0.0.1/n"},
			want: config{Addr: ":9001", DB: "memory", Gateway: "http://127.0.0.1:7000", OpenURL: "http://127.0.0.1:7000", Version: "v1",
				MchID: "m2", MchKey: "mk2", AgentID: "a2", AgentKey: "ak2", NotifyURL: "http://10.0.0.1/n", Expire: 2 * time.Hour},
		},
		{
			name: "a flag beats its variable",
			args: []string{"-db", "sqlite:/tmp/x.db"},
			env:  map[string]string{"CYPAY_DB": "memory", "CYPAY_MCH_ID": "m3"},
			want: with(func(c *config) { c.DB, c.MchID = "sqlite:/tmp/x.db", "m3" }),
		},
		{
			// A sandbox run must never send v1 pre-orders to production.
			name: "open-url defaults to the gateway URL",
			args: []string{"-gateway", "https://sandbox.example.com/", "-version", "v1"},
			want: with(func(c *config) {
				c.Gateway, c.OpenURL, c.Version = "https://sandbox.example.com", "https://sandbox.example.com", "v1"
			}),
		},
		{name: "mysql", args: []string{"-db", "mysql://root@127.0.0.1:3306/test"}, want: with(func(c *config) { c.DB = "mysql://root@127.0.0.1:3306/test" })},
		{name: "expire", args: []string{"-expire", "30m"}, want: with(func(c *config) { c.Expire = 30 * time.Minute })},
		{name: "expire from the environment", env: map[string]string{"CYPAY_EXPIRE": "1m"}, want: with(func(c *config) { c.Expire = time.Minute })},
		{name: "expire flag beats its variable", args: []string{"-expire", "24h"}, env: map[string]string{"CYPAY_EXPIRE": "1m"}, want: with(func(c *config) { c.Expire = 24 * time.Hour })},
		{name: "expire too short", args: []string{"-expire", "30s"}, wantErr: "-expire"},
		{name: "expire too long", args: []string{"-expire", "25h"}, wantErr: "-expire"},
		{name: "expire not a duration", args: []string{"-expire", "2"}, wantErr: "-expire"},
		{name: "bad addr", args: []string{"-addr", "8080"}, wantErr: "-addr"},
		{name: "short admin token", args: []string{"-admin-token", "fifteen-bytes!!"}, wantErr: "-admin-token is shorter than 16 bytes"},
		{name: "one-letter admin token", args: []string{"-admin-token", "x"}, wantErr: "-admin-token"},
		{name: "bad db", args: []string{"-db", "oracle://x"}, wantErr: "-db"},
		{name: "empty sqlite path", args: []string{"-db", "sqlite:"}, wantErr: "-db"},
		{name: "mysql without database", args: []string{"-db", "mysql://root@127.0.0.1:3306"}, wantErr: "-db"},
		{name: "password stays out of errors", args: []string{"-db", "redis://u:secret@h/0"}, wantErr: "xxxxx"},
		{name: "bad version", args: []string{"-version", "v3"}, wantErr: "-version"},
		{name: "bad gateway", args: []string{"-gateway", "pay.example.com"}, wantErr: "-gateway"},
		{name: "bad open url", args: []string{"-open-url", "ftp://x"}, wantErr: "-open-url"},
		{name: "bad notify url", args: []string{"-notify-url", "/pay/notify"}, wantErr: "-notify-url"},
		{name: "v2 without merchant key", args: []string{"-mch-key", ""}, wantErr: "-mch-key"},
		{name: "v1 without agent key", args: []string{"-version", "v1", "-agent-key", ""}, wantErr: "-agent-key"},
		{name: "v2 needs no agent key", args: []string{"-agent-key", ""}, want: with(func(c *config) { c.AgentKey = "" })},
		{name: "stray argument", args: []string{"serve"}, wantErr: "serve"},
		{name: "unknown flag", args: []string{"-port", "1"}, wantErr: "-port"},
		{name: "an empty flag beats its variable", args: []string{"-notify-url", ""}, env: map[string]string{"CYPAY_NOTIFY_URL": "http://x/n"}, want: defaults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q shows a password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(config{}), cmpopts.IgnoreFields(config{}, "orderLimit")); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUsageHidesEnvironmentKeys: -h lists the built-in defaults, never a
// key set in the environment.
func TestUsageHidesEnvironmentKeys(t *testing.T) {
	var usage strings.Builder
	env := map[string]string{"CYPAY_MCH_KEY": "real-merchant-key", "CYPAY_AGENT_KEY": "real-agent-key"}
	_, err := parseConfig([]string{"-h"}, func(k string) string { return env[k] }, &usage)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	for _, key := range env {
		if strings.Contains(usage.String(), key) {
			t.Errorf("usage shows %q:\n%s", key, usage.String())
		}
	}
	if !strings.Contains(usage.String(), "default: the -gateway URL") {
		t.Errorf("usage does not say where -open-url defaults to:\n%s", usage.String())
	}
	if !strings.Contains(usage.String(), "$CYPAY_MCH_KEY") {
		t.Errorf("usage does not name $CYPAY_MCH_KEY:\n%s", usage.String())
	}
}

// TestParseDB: -db is memory or what sqlopen parses (its own tests
// cover the URLs); the operator commands that were here point to cypay.
func TestParseDB(t *testing.T) {
	if _, memory, err := parseDB("memory"); !memory || err != nil {
		t.Errorf("parseDB(memory): got %v, %v; want the in-memory store", memory, err)
	}
	target, memory, err := parseDB("sqlite:shop.db")
	if memory || err != nil || target.Path != "shop.db" {
		t.Errorf("parseDB(sqlite:shop.db): got %+v, %v, %v; want the file shop.db", target, memory, err)
	}
	if _, _, err := parseDB("shop.db"); err == nil || !strings.Contains(err.Error(), "-db") {
		t.Errorf("parseDB(shop.db): got %v, want an error naming -db", err)
	}
	for _, cmd := range []string{"inbox", "events", "replay"} {
		_, err := parseConfig([]string{cmd, "ls"}, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "cypay "+cmd) {
			t.Errorf("checkout %s: got %v, want a pointer to cypay %s", cmd, err, cmd)
		}
	}
}

// TestBanner shows the first thing a newcomer reads: where the shop is,
// and the simulator's demo keys, but never a key of their own.
func TestBanner(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string
		mustNot []string
	}{
		{name: "demo", want: []string{"demo shop: http://", "/pay/notify", "simulator at http://127.0.0.1:", "mch_id 00000001", demoMchKey + " (demo)"}},
		{name: "v1 demo", args: []string{"-version", "v1"}, want: []string{"agent_id " + demoAgentID, demoAgentKey + " (demo)"}},
		{name: "own keys", args: []string{"-mch-key", "my-real-merchant-key"}, want: []string{"(set, not shown)"}, mustNot: []string{"my-real-merchant-key"}},
		{name: "own notify url", args: []string{"-notify-url", "https://shop.example.com/pay/notify"}, want: []string{"notify:   https://shop.example.com/pay/notify"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shop := startShop(t, testConfig(t, append([]string{"-db", "memory"}, tt.args...)...))
			out := shop.Stdout.String()
			// One write: a reader who has seen the first line has
			// seen the whole banner, and no log line splits it.
			if n := shop.Stdout.Writes(); n != 1 {
				t.Errorf("the banner came in %d writes, want 1", n)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("banner lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.mustNot {
				if strings.Contains(out+shop.Logs.String(), w) {
					t.Errorf("output shows %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestRunListens shows run serves on -addr and stops when its context ends.
func TestRunListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := testConfig(t, "-addr", addr, "-db", "memory")
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, out, io.Discard) }()
	for i := 0; !strings.Contains(out.String(), "demo shop: http://"+addr); i++ {
		select {
		case err := <-done:
			t.Fatalf("run stopped early: %v", err)
		default:
		}
		if i > 1000 {
			t.Fatalf("run printed %q, want the shop at %s", out.String(), addr)
		}
		sleepBriefly()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: got %v, want nil", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Errorf("%s still accepts connections after run returned", addr)
	}
}

// TestServeFailsCleanly: a shop that cannot open its database returns
// the error instead of serving (or panicking while it cleans up).
func TestServeFailsCleanly(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{"sqlite:" + filepath.Join(notADir, "shop.db"), "mysql://root@127.0.0.1:1/test"} {
		t.Run(db, func(t *testing.T) {
			cfg := testConfig(t, "-db", db)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			err = serve(context.Background(), cfg, ln, io.Discard, io.Discard)
			if err == nil {
				t.Fatalf("serve with -db %s: got nil, want an error", db)
			}
		})
	}
}

// TestDefaultDBPrivate: with no -db the shop keeps its orders in the
// user's cache directory, in a directory only the user can enter, not in
// the temporary directory every user of the machine shares; and the
// banner names the file and how to start afresh.
func TestDefaultDBPrivate(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", t.TempDir()) // os.UserCacheDir on macOS
	t.Setenv("TMPDIR", t.TempDir())
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	target, _, err := parseDB(cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	path := target.Path
	if dir := filepath.Join(cacheDir, "cypaykit"); filepath.Dir(path) != dir {
		t.Errorf("default -db %s: want a file in %s", path, dir)
	}
	if strings.HasPrefix(path, os.TempDir()) {
		t.Errorf("default -db %s is in the shared temporary directory %s", path, os.TempDir())
	}
	shop := startShop(t, cfg)
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("%s has mode %o, want 700", filepath.Dir(path), perm)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the shop did not create its database: %v", err)
	}
	if want := "database: " + path + " (stop the shop and delete the file to start afresh)"; !strings.Contains(shop.Stdout.String(), want) {
		t.Errorf("banner lacks %q:\n%s", want, shop.Stdout.String())
	}
}

// TestDefaultDBPerCheckout: two clones never share a default database,
// and one clone always finds its own again; without a cache directory
// the file falls back to the temporary directory.
func TestDefaultDBPerCheckout(t *testing.T) {
	cache := func() (string, error) { return "/home/u/.cache", nil }
	a := defaultDBPath(cache, "/src/a/kit/example/checkout")
	b := defaultDBPath(cache, "/src/b/kit/example/checkout")
	if a == b {
		t.Errorf("two checkouts share the default database %s", a)
	}
	if again := defaultDBPath(cache, "/src/a/kit/example/checkout"); again != a {
		t.Errorf("one checkout: got %s, then %s", a, again)
	}
	if !strings.HasPrefix(a, filepath.Join("/home/u/.cache", "cypaykit")+string(filepath.Separator)) {
		t.Errorf("default %s is not in the cache directory", a)
	}
	none := func() (string, error) { return "", errors.New("no cache directory") }
	if got := defaultDBPath(none, "/src/a"); filepath.Dir(got) != os.TempDir() {
		t.Errorf("without a cache directory: got %s, want a file in %s", got, os.TempDir())
	}
	if dir := checkoutDir(); !filepath.IsAbs(dir) {
		t.Errorf("checkoutDir() = %q, want an absolute path", dir)
	}
}

// TestREADMEFlags: example/README.md's flag table lists every flag of the
// demo and no flag it does not have, so `-h` and the README agree.
func TestREADMEFlags(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	flagName := regexp.MustCompile("`-([a-z0-9-]+)`")
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "| `-") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range flagName.FindAllStringSubmatch(first, -1) {
			documented[m[1]] = true
		}
	}
	var c config
	var version, expire string
	fs, _ := c.flagSet(&version, &expire, io.Discard)
	defined := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { defined[f.Name] = true })
	if diff := cmp.Diff(defined, documented); diff != "" {
		t.Errorf("flags (-) defined vs (+) in example/README.md's table:\n%s", diff)
	}
}
