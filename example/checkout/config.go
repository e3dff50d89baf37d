package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store/sqlstore/sqlopen"
)

// The simulator's demo credentials. They sign nothing outside this machine:
// the simulator listens on loopback only.
const (
	demoMchID    = "00000001"
	demoMchKey   = "0123456789abcdef0123456789abcdef"
	demoAgentID  = "13000000000000000"
	demoAgentKey = "fedcba9876543210fedcba9876543210"
)

// gatewaySim is the -gateway value that starts the in-process simulator.
const gatewaySim = "sim"

// config is what the flags and environment variables set.
type config struct {
	// Addr is where the shop listens.
	Addr string
	// DB is sqlite:PATH, memory, postgres://… or mysql://….
	DB string
	// Gateway is "sim" or the gateway's base URL (used for both the v2
	// gateway and the legacy /Open endpoints).
	Gateway string
	// OpenURL is the base of the legacy /Open pre-order endpoints (v1
	// WECHAT and ALIPAY); empty means the -gateway URL, so that a sandbox
	// run never sends v1 pre-orders to the production host. Unused with
	// the simulator, which serves both.
	OpenURL  string
	Version  model.Version
	MchID    string
	MchKey   string
	AgentID  string
	AgentKey string
	// NotifyURL is sent with every pre-order; empty means
	// http://<Addr>/pay/notify, which the simulator can reach.
	NotifyURL string
	// Metrics serves Prometheus metrics at GET /metrics on Addr.
	Metrics bool
	// MetricsAddr, when set, is a second listener for operators: GET
	// /metrics, and /healthz and /readyz with the store's error text,
	// away from the public address.
	MetricsAddr string
	// StatusSecret keys the buyers' status tokens; empty means a key
	// derived from the merchant key (v2) or agent key (v1), which every
	// instance of the shop already shares.
	StatusSecret string
	// AdminToken is the bearer token of the /admin routes; empty means a
	// random one, printed once at start-up.
	AdminToken string
	// Expire is how long every attempt stays payable: the pre-order's
	// time_expire, and the end of the reconciler's watch
	// (handler.PreOrderConfig.Expire).
	Expire time.Duration

	// tablePrefix is sqlstore's table prefix; zero means its default.
	// Tests set it so that they can share a database server.
	tablePrefix string
	// orderLimit bounds order creation; parseConfig sets the demo's
	// (orderRate, orderBurst) and tests may replace it.
	orderLimit *limiter
}

// simulated reports whether the in-process gateway simulator runs.
func (c config) simulated() bool { return c.Gateway == gatewaySim }

// defaultDB is a SQLite file in the user's cache directory rather than
// in the working directory, so that `go run ./example/checkout` never
// leaves a database next to the sources; and it is named after the
// checkout, so that two clones (or two users, each with their own cache
// directory) never see each other's orders. The banner prints it: delete
// the file to start afresh.
func defaultDB() string {
	return "sqlite:" + defaultDBPath(os.UserCacheDir, checkoutDir())
}

// defaultDBPath is cypay-demo-<hash of checkout>.db in cacheDir()/cypaykit,
// or in the temporary directory when the user has no cache directory.
// sqlopen creates the directory 0700: the file holds the shop's orders.
func defaultDBPath(cacheDir func() (string, error), checkout string) string {
	dir := os.TempDir()
	if d, err := cacheDir(); err == nil && d != "" {
		dir = filepath.Join(d, "cypaykit")
	}
	sum := sha256.Sum256([]byte(checkout))
	return filepath.Join(dir, "cypay-demo-"+hex.EncodeToString(sum[:6])+".db")
}

// checkoutDir names the checkout the demo was built from: the directory
// of this source file, which `go run` and `go build` record as an
// absolute path, so the same clone finds the same database from any
// working directory. Built with -trimpath the path is not absolute, and
// the working directory stands in.
func checkoutDir() string {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		return filepath.Dir(file)
	}
	if wd, err := os.Getwd(); err == nil {
		return wd
	}
	return ""
}

// flagSpec ties a flag to its environment variable.
type flagSpec struct {
	name, env, def, usage string
	dst                   *string
}

func (c *config) specs(version, expire *string) []flagSpec {
	return []flagSpec{
		{"addr", "CYPAY_ADDR", "127.0.0.1:8080", "address the shop listens on", &c.Addr},
		{"db", "CYPAY_DB", defaultDB(), "database: sqlite:PATH, memory, postgres://… or mysql://…", &c.DB},
		{"gateway", "CYPAY_GATEWAY", gatewaySim, `"sim" for the in-process simulator, or the gateway base URL`, &c.Gateway},
		{"open-url", "CYPAY_OPEN_URL", "", "base URL of the legacy /Open pre-order endpoints for v1 (default: the -gateway URL when one is given, else the simulator; never production unless you name it)", &c.OpenURL},
		{"version", "CYPAY_VERSION", string(model.V2), "protocol version: v1 (agent key) or v2 (merchant key)", version},
		{"mch-id", "CYPAY_MCH_ID", demoMchID, "merchant number (mch_id)", &c.MchID},
		{"mch-key", "CYPAY_MCH_KEY", demoMchKey, "merchant key (v2)", &c.MchKey},
		{"agent-id", "CYPAY_AGENT_ID", demoAgentID, "agent id (v1)", &c.AgentID},
		{"agent-key", "CYPAY_AGENT_KEY", demoAgentKey, "agent key (v1)", &c.AgentKey},
		{"notify-url", "CYPAY_NOTIFY_URL", "", "notify_url sent to the gateway (default http://ADDR/pay/notify)", &c.NotifyURL},
		{"status-secret", "CYPAY_STATUS_SECRET", "", "key for the buyers' order-status tokens; every instance needs the same (default: derived from the signing key)", &c.StatusSecret},
		{"metrics-addr", "CYPAY_METRICS_ADDR", "", "second address for operators: GET /metrics, /healthz and /readyz with error detail (default: none)", &c.MetricsAddr},
		{"admin-token", "CYPAY_ADMIN_TOKEN", "", "bearer token of the /admin routes, at least 16 bytes (default: a random one, printed at start-up)", &c.AdminToken},
		{"expire", "CYPAY_EXPIRE", "2h", "how long each payment attempt stays payable (time_expire), 1m to 24h", expire},
	}
}

// flagSet defines every flag of the demo on c (example/README.md's table
// lists each one; a test holds them together).
func (c *config) flagSet(version, expire *string, usage io.Writer) (*flag.FlagSet, []flagSpec) {
	fs := flag.NewFlagSet("checkout", flag.ContinueOnError)
	fs.SetOutput(usage)
	specs := c.specs(version, expire)
	for _, s := range specs {
		fs.StringVar(s.dst, s.name, s.def, s.usage+" ($"+s.env+")")
	}
	fs.BoolVar(&c.Metrics, "metrics", false, "serve Prometheus metrics at GET /metrics on the same address ($CYPAY_METRICS)")
	return fs, specs
}

// parseConfig reads the flags in args over the environment over the
// defaults: a flag beats its variable, a variable beats the default.
// Variables are applied after parsing, so that -h shows the built-in
// defaults and never a key taken from the environment.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	var c config
	var version, expire string
	fs, specs := c.flagSet(&version, &expire, usage)
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		if a := fs.Arg(0); a == "inbox" || a == "events" || a == "replay" {
			// The operator's commands are cypay's, on the same -db.
			return config{}, fmt.Errorf("%q is a cypay command: go install github.com/cypaykit/kit/cmd/cypay@latest, then cypay %s -db DB (this shop's -db)", a, a)
		}
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range specs {
		if v := getenv(s.env); v != "" && !set[s.name] {
			*s.dst = v
		}
	}
	if v := getenv("CYPAY_METRICS"); v != "" && !set["metrics"] {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return config{}, fmt.Errorf("$CYPAY_METRICS %q: want true or false", v)
		}
		c.Metrics = on
	}
	c.Version = model.Version(version)
	d, err := time.ParseDuration(expire)
	if err != nil || d < handler.MinExpire || d > handler.MaxExpire {
		return config{}, fmt.Errorf("-expire %q: want a duration from %s to %s, e.g. 2h or 30m", expire, handler.MinExpire, handler.MaxExpire)
	}
	c.Expire = d
	c.orderLimit = newLimiter(orderRate, orderBurst, time.Now)
	return c, c.validate()
}

func (c *config) validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("-addr %q: want host:port", c.Addr)
	}
	if c.MetricsAddr != "" {
		_, port, err := net.SplitHostPort(c.MetricsAddr)
		if err != nil {
			return fmt.Errorf("-metrics-addr %q: want host:port", c.MetricsAddr)
		}
		if c.MetricsAddr == c.Addr && port != "0" {
			return fmt.Errorf("-metrics-addr %q is -addr: use -metrics to serve metrics on the shop's address", c.MetricsAddr)
		}
	}
	if _, _, err := parseDB(c.DB); err != nil {
		return err
	}
	if !c.Version.Valid() {
		return fmt.Errorf("-version %q: want v1 or v2", c.Version)
	}
	if !c.simulated() {
		if err := checkURL("-gateway", c.Gateway); err != nil {
			return err
		}
		c.Gateway = strings.TrimRight(c.Gateway, "/")
	}
	if c.OpenURL != "" {
		if err := checkURL("-open-url", c.OpenURL); err != nil {
			return err
		}
		c.OpenURL = strings.TrimRight(c.OpenURL, "/")
	} else if !c.simulated() {
		c.OpenURL = c.Gateway
	}
	if c.MchID == "" {
		return errors.New("-mch-id is empty")
	}
	switch {
	case c.Version == model.V2 && c.MchKey == "":
		return errors.New("-mch-key is empty (v2 signs with the merchant key)")
	case c.Version == model.V1 && (c.AgentID == "" || c.AgentKey == ""):
		return errors.New("-agent-id or -agent-key is empty (v1 signs with the agent key)")
	}
	if c.NotifyURL != "" {
		if err := checkURL("-notify-url", c.NotifyURL); err != nil {
			return err
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		// The admin routes refund money: a short token is guessed.
		return errors.New("-admin-token is shorter than 16 bytes")
	}
	if c.StatusSecret != "" && len(c.StatusSecret) < 16 {
		return errors.New("-status-secret is shorter than 16 bytes")
	}
	return nil
}

func checkURL(flagName, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an http(s) URL", flagName, s)
	}
	return nil
}

// dbMemory is the -db value of the in-memory store; any other -db is a
// database URL that sqlopen opens (sqlite:PATH, postgres://…, mysql://…),
// the same as cypay's -db.
const dbMemory = "memory"

// parseDB reads -db: memory reports true, anything else is parsed by
// sqlopen.
func parseDB(s string) (target sqlopen.Target, memory bool, err error) {
	if s == dbMemory {
		return sqlopen.Target{}, true, nil
	}
	target, err = sqlopen.Parse(s)
	if err != nil {
		return sqlopen.Target{}, false, fmt.Errorf("-db %w (or memory)", err)
	}
	return target, false, nil
}
