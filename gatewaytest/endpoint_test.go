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
	"sync"
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

// battery runs CheckEndpoint against h behind a test server. It is safe
// to call from any goroutine: it reports a battery that could not be
// built as err instead of failing the test.
func battery(h http.Handler) (map[string]gatewaytest.CheckResult, error) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := gatewaytest.CheckEndpoint(context.Background(), gatewaytest.EndpointCheck{
		URL: srv.URL + "/pay/notify", Key: epKey, MchID: epMch, OutTradeNo: epOTN, TotalFee: epFee,
		// The cutoff leaves the kit's 2 s default deadline 4 s of margin
		// on a loaded machine; the oversized body must be verified inside
		// that deadline under -race.
		Cutoff: 6 * time.Second, SlowFor: 8 * time.Second, Oversize: 256 << 10,
	})
	if err != nil {
		return nil, err
	}
	byName := map[string]gatewaytest.CheckResult{}
	for _, r := range res {
		byName[r.Name] = r
	}
	return byName, nil
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

// onlyFails checks that the check named by sub fails for shop, and no
// other check does: a host can see what to fix.
func onlyFails(t *testing.T, res map[string]gatewaytest.CheckResult, sub, shop string) {
	t.Helper()
	if len(failed(res, sub)) == 0 {
		t.Errorf("%s passes the %s check", shop, sub)
	}
	for name, r := range res {
		if !r.Pass && !strings.Contains(name, sub) {
			t.Errorf("only the %s check should fail; %q: %s", sub, name, r.Got)
		}
	}
}

// shopCase is one shop the battery is run against and what its results
// must show.
type shopCase struct {
	name  string
	shop  http.Handler
	check func(t *testing.T, res map[string]gatewaytest.CheckResult)
}

// TestCheckEndpoint runs the battery against the kit and against six
// broken shops, each behind its own server with its own order, and
// checks what each battery shows. The batteries run at the same time:
// each spends most of its time waiting (a slow body takes SlowFor to
// arrive at a shop that holds it), and go test's -parallel, which is
// GOMAXPROCS, would otherwise run those waits two at a time.
func TestCheckEndpoint(t *testing.T) {
	t.Parallel()
	cases := []shopCase{
		passesTheKit(t),
		catchesAlwaysSuccess(),
		catchesIgnoredAmount(),
		catchesAcceptedRecut(),
		catchesSignFromQuery(),
		catchesHeldSlowBody(t),
		catchesAcceptedOversize(t),
	}
	type outcome struct {
		res map[string]gatewaytest.CheckResult
		err error
	}
	// Each battery is bounded: every request has the default client's
	// 10 s timeout, and the slow body ends after SlowFor.
	out := make([]outcome, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].res, out[i].err = battery(c.shop)
		}()
	}
	wg.Wait()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if out[i].err != nil {
				t.Fatal(out[i].err)
			}
			for _, r := range out[i].res {
				t.Logf("%-60s want %-8s got %-40s pass=%v", r.Name, r.Want, r.Got, r.Pass)
			}
			c.check(t, out[i].res)
		})
	}
}

func passesTheKit(t *testing.T) shopCase {
	h, st, hooks := kitShop(t)
	return shopCase{"PassesTheKit", h, func(t *testing.T, res map[string]gatewaytest.CheckResult) {
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
	}}
}

func catchesAlwaysSuccess() shopCase {
	return shopCase{"CatchesAlwaysSuccess", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "success")
	}), func(t *testing.T, res map[string]gatewaytest.CheckResult) {
		for _, name := range []string{"bad sign", "wrong amount", "sign in the query", "re-cut", "oversized", "slow body"} {
			if len(failed(res, name)) == 0 {
				t.Errorf("a shop answering success to everything passes %q", name)
			}
		}
	}}
}

func catchesIgnoredAmount() shopCase {
	return shopCase{"CatchesIgnoredAmount", naive(bodyForm, nil), func(t *testing.T, res map[string]gatewaytest.CheckResult) {
		if len(failed(res, "wrong amount")) == 0 {
			t.Error("a shop that ignores the amount passes the wrong-amount check")
		}
		if len(failed(res, "bad sign")) != 0 || len(failed(res, "genuine")) != 0 {
			t.Error("a shop that verifies the sign fails the bad-sign or genuine check")
		}
	}}
}

func catchesAcceptedRecut() shopCase {
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
	return shopCase{"CatchesAcceptedRecut", naive(bodyForm, lenient), func(t *testing.T, res map[string]gatewaytest.CheckResult) {
		if len(failed(res, "re-cut")) == 0 {
			t.Error("a shop that accepts a re-cut passes every re-cut check")
		}
		if len(failed(res, "wrong amount")) != 0 {
			t.Error("a shop that checks the amount fails the wrong-amount check")
		}
	}}
}

func catchesSignFromQuery() shopCase {
	merged := func(r *http.Request) url.Values { r.ParseForm(); return r.Form }
	return shopCase{"CatchesSignFromQuery", naive(merged, func(v url.Values) string { return v.Get("total_fee") }),
		func(t *testing.T, res map[string]gatewaytest.CheckResult) {
			if len(failed(res, "sign in the query")) == 0 {
				t.Error("a shop that merges the query string into the signed set passes")
			}
		}}
}

func catchesHeldSlowBody(t *testing.T) shopCase {
	h, _, _ := kitShop(t)
	// Reads the whole body before the kit sees it: the kit's deadline can
	// no longer cut a slow sender off.
	holds := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		h.ServeHTTP(w, r)
	})
	return shopCase{"CatchesHeldSlowBody", holds, func(t *testing.T, res map[string]gatewaytest.CheckResult) {
		onlyFails(t, res, "slow body", "a shop that holds slow bodies")
	}}
}

// catchesAcceptedOversize: a shop that verifies everything but accepts
// any body size (here the kit's handler with its body limit raised above
// the checker's oversized body, as a host that raised it for no reason
// would) fails the oversized check, and only it: a host can see what to
// fix.
func catchesAcceptedOversize(t *testing.T) shopCase {
	h, _, _ := kitShopMaxBody(t, 1<<20)
	return shopCase{"CatchesAcceptedOversize", h, func(t *testing.T, res map[string]gatewaytest.CheckResult) {
		onlyFails(t, res, "oversized", "a shop that accepts an oversized body")
	}}
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
