package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestProbes proves the shop serves liveness and readiness on its address,
// ready once its SQLite store answers.
func TestProbes(t *testing.T) {
	shop := startShop(t, testConfig(t))
	if code, body := get(t, shop.URL+"/healthz"); code != http.StatusOK || !strings.Contains(body, `"live":true`) {
		t.Fatalf("GET /healthz: %d %s", code, body)
	}
	code, body := get(t, shop.URL+"/readyz")
	var rd struct {
		Ready bool `json:"ready"`
		Store struct {
			OK bool `json:"ok"`
		} `json:"store"`
		Reconciler *struct{} `json:"reconciler"`
	}
	if err := json.Unmarshal([]byte(body), &rd); err != nil {
		t.Fatalf("GET /readyz: %d %q: %v", code, body, err)
	}
	if code != http.StatusOK || !rd.Ready || !rd.Store.OK || rd.Reconciler == nil {
		t.Fatalf("GET /readyz: %d %s; want 200, ready, store and reconciler checked", code, body)
	}
	if !strings.Contains(shop.Stdout.String(), "/readyz") {
		t.Error("the banner does not say where the probes are")
	}
}

// TestMetricsAddr proves -metrics-addr serves metrics and the probes on a
// second listener and keeps /metrics off the public address.
func TestMetricsAddr(t *testing.T) {
	shop := startShop(t, testConfig(t, "-metrics-addr", "127.0.0.1:0"))
	m := regexp.MustCompile(`ops: +GET (http://[0-9.:]+)/metrics`).FindStringSubmatch(shop.Stdout.String())
	if m == nil {
		t.Fatalf("the banner names no ops address:\n%s", shop.Stdout.String())
	}
	ops := m[1]
	if code, body := get(t, ops+"/metrics"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("GET ops /metrics: %d", code)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := get(t, ops+p); code != http.StatusOK {
			t.Errorf("GET ops %s: %d, want 200", p, code)
		}
	}
	if code, _ := get(t, shop.URL+"/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics on the public address with only -metrics-addr: %d, want 404", code)
	}
}

func TestMetricsAddrConfig(t *testing.T) {
	for _, args := range [][]string{
		{"-metrics-addr", "nonsense"},
		{"-addr", "127.0.0.1:8080", "-metrics-addr", "127.0.0.1:8080"},
	} {
		if _, err := parseConfig(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("parseConfig(%q): no error", args)
		}
	}
	cfg, err := parseConfig(nil, func(k string) string {
		if k == "CYPAY_METRICS_ADDR" {
			return "127.0.0.1:9090"
		}
		return ""
	}, io.Discard)
	if err != nil || cfg.MetricsAddr != "127.0.0.1:9090" {
		t.Fatalf("$CYPAY_METRICS_ADDR: %q, %v", cfg.MetricsAddr, err)
	}
}
