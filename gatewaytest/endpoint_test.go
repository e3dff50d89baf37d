package gatewaytest_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

const (
	epMch = "M100001"
	epKey = "0123456789abcdef0123456789abcdef"
	epOTN = "EPCHECK0001"
	epFee = int64(1800)
)

// kitShop is the kit's notification handler over a memstore holding one
// open attempt, as a shop mounts it. Its deadline is short so that the
// slow-body check has seconds of margin on a loaded machine.
func kitShop(t *testing.T) (http.Handler, *memstore.Store, *atomic.Int32) {
	t.Helper()
	return kitShopMaxBody(t, 0)
}

// kitShopMaxBody is kitShop with NotifyConfig.MaxBody set to maxBody.
func kitShopMaxBody(t *testing.T, maxBody int64) (http.Handler, *memstore.Store, *atomic.Int32) {
	t.Helper()
	st := memstore.New()
	now := time.Now()
	if err := st.Create(context.Background(), &store.Order{
		OutTradeNo: epOTN, BusinessID: "B1", Attempt: 1, MchID: epMch,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: model.V2,
		Amount: epFee, Status: store.Pending, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	var hooks atomic.Int32
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	settler, err := handler.NewSettler(handler.SettlerConfig{Store: st, Locker: st, Logger: quiet,
		Fulfill: func(context.Context, store.Order) error { hooks.Add(1); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: settler, Logger: quiet, MaxBody: maxBody,
		Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(map[string]string{epMch: epKey})}})
	if err != nil {
		t.Fatal(err)
	}
	return n, st, &hooks
}

// naive is a shop that verifies the sign of the body's fields and then
// decides with lookup (nil: it never looks at the amount).
func naive(readForm func(r *http.Request) url.Values, amount func(v url.Values) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := readForm(r)
		if sign.Verify(v, sign.MD5, epKey) != nil || v.Get("out_trade_no") != epOTN {
			io.WriteString(w, "fail")
			return
		}
		if amount != nil && amount(v) != strconv.FormatInt(epFee, 10) {
			io.WriteString(w, "fail")
			return
		}
		io.WriteString(w, "success")
	})
}

func bodyForm(r *http.Request) url.Values {
	b, _ := io.ReadAll(r.Body)
	v, _ := url.ParseQuery(string(b))
	return v
}

func check(t *testing.T, h http.Handler) map[string]gatewaytest.CheckResult {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	res, err := gatewaytest.CheckEndpoint(context.Background(), gatewaytest.EndpointCheck{
		URL: srv.URL + "/pay/notify", Key: epKey, MchID: epMch, OutTradeNo: epOTN, TotalFee: epFee,
		// The cutoff leaves the kit's 2 s default deadline 4 s of margin
		// on a loaded machine; the oversized body must be verified inside
		// that deadline under -race.
		Cutoff: 6 * time.Second, SlowFor: 8 * time.Second, Oversize: 256 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]gatewaytest.CheckResult{}
	for _, r := range res {
		byName[r.Name] = r
		t.Logf("%-60s want %-8s got %-40s pass=%v", r.Name, r.Want, r.Got, r.Pass)
	}
	return byName
}

// failed returns the names of the failed checks that contain any of subs.
func failed(res map[string]gatewaytest.CheckResult, sub string) []string {
	var out []string
	for name, r := range res {
		if !r.Pass && strings.Contains(name, sub) {
			out = append(out, name)
		}
	}
	return out
}

func TestCheckEndpointPassesTheKit(t *testing.T) {
	t.Parallel()
	h, st, hooks := kitShop(t)
	res := check(t, h)
	if len(res) < 9 {
		t.Fatalf("%d checks ran; want the whole battery", len(res))
	}
	for name, r := range res {
		if !r.Pass {
			t.Errorf("the kit fails %q: want %s, got %s", name, r.Want, r.Got)
		}
	}
	o, err := st.Get(context.Background(), epOTN)
	if err != nil || o.Status != store.Paid || o.Amount != epFee || hooks.Load() != 1 {
		t.Fatalf("after the battery: %+v %v, hook ran %d times; want PAID once by the genuine notification", o, err, hooks.Load())
	}
}

func TestCheckEndpointCatchesAlwaysSuccess(t *testing.T) {
	t.Parallel()
	res := check(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "success")
	}))
	for _, name := range []string{"bad sign", "wrong amount", "sign in the query", "re-cut", "oversized", "slow body"} {
		if len(failed(res, name)) == 0 {
			t.Errorf("a shop answering success to everything passes %q", name)
		}
	}
}

func TestCheckEndpointCatchesIgnoredAmount(t *testing.T) {
	t.Parallel()
	res := check(t, naive(bodyForm, nil))
	if len(failed(res, "wrong amount")) == 0 {
		t.Error("a shop that ignores the amount passes the wrong-amount check")
	}
	if len(failed(res, "bad sign")) != 0 || len(failed(res, "genuine")) != 0 {
		t.Error("a shop that verifies the sign fails the bad-sign or genuine check")
	}
}

func TestCheckEndpointCatchesAcceptedRecut(t *testing.T) {
	t.Parallel()
	// Checks the amount, but finds it by a case-blind lookup of the first
	// non-blank value: the blank TOTAL_FEE re-cut passes it.
	lenient := func(v url.Values) string {
		for k, vs := range v {
			if strings.EqualFold(k, "total_fee") && strings.TrimSpace(vs[0]) != "" {
				return vs[0]
			}
		}
		return ""
	}
	res := check(t, naive(bodyForm, lenient))
	if len(failed(res, "re-cut")) == 0 {
		t.Error("a shop that accepts a re-cut passes every re-cut check")
	}
	if len(failed(res, "wrong amount")) != 0 {
		t.Error("a shop that checks the amount fails the wrong-amount check")
	}
}

func TestCheckEndpointCatchesSignFromQuery(t *testing.T) {
	t.Parallel()
	merged := func(r *http.Request) url.Values { r.ParseForm(); return r.Form }
	res := check(t, naive(merged, func(v url.Values) string { return v.Get("total_fee") }))
	if len(failed(res, "sign in the query")) == 0 {
		t.Error("a shop that merges the query string into the signed set passes")
	}
}

func TestCheckEndpointCatchesHeldSlowBody(t *testing.T) {
	t.Parallel()
	h, _, _ := kitShop(t)
	// Reads the whole body before the kit sees it: the kit's deadline can
	// no longer cut a slow sender off.
	holds := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		h.ServeHTTP(w, r)
	})
	res := check(t, holds)
	if len(failed(res, "slow body")) == 0 {
		t.Error("a shop that holds slow bodies passes the slow-body check")
	}
	for name, r := range res {
		if !r.Pass && !strings.Contains(name, "slow body") {
			t.Errorf("only the slow-body check should fail; %q: %s", name, r.Got)
		}
	}
}

// TestCheckEndpointCatchesAcceptedOversize: a shop that verifies
// everything but accepts any body size (here the kit's handler with its
// body limit raised above the checker's oversized body, as a host that
// raised it for no reason would) fails the oversized check, and only it:
// a host can see what to fix.
func TestCheckEndpointCatchesAcceptedOversize(t *testing.T) {
	t.Parallel()
	h, _, _ := kitShopMaxBody(t, 1<<20)
	res := check(t, h)
	if len(failed(res, "oversized")) == 0 {
		t.Error("a shop that accepts an oversized body passes the oversized check")
	}
	for name, r := range res {
		if !r.Pass && !strings.Contains(name, "oversized") {
			t.Errorf("only the oversized check should fail; %q: %s", name, r.Got)
		}
	}
}

func TestCheckEndpointConfig(t *testing.T) {
	for _, c := range []gatewaytest.EndpointCheck{
		{URL: "ftp://x", Key: epKey, MchID: epMch, OutTradeNo: epOTN, TotalFee: 1},
		{URL: "http://x", MchID: epMch, OutTradeNo: epOTN, TotalFee: 1},
		{URL: "http://x", Key: epKey, MchID: epMch, OutTradeNo: epOTN},
		{URL: "http://x", Key: epKey, MchID: epMch, OutTradeNo: epOTN, TotalFee: 1, Cutoff: 5 * time.Second, SlowFor: time.Second},
	} {
		if _, err := gatewaytest.CheckEndpoint(context.Background(), c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
