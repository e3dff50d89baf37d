package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cypaykit/kit/internal/skipnote"
)

// chromiumPath finds Debian's Chromium (.ci/browser installs it). Without
// it the test is skipped, except under CI=true where that is a failure.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CYPAY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found and CI=true: run .ci/browser (apt-get install chromium)")
	}
	skipnote.Note("CYPAY_CHROMIUM")
	t.Skip("chromium not found: apt-get install chromium (or set CYPAY_CHROMIUM) to run the browser test")
	return ""
}

// artefactDir is where screenshots go: $CYPAY_ARTIFACTS, else a
// temporary directory of the test.
func artefactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CYPAY_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts headless Chromium with a fresh profile and no
// background traffic, and stops it when t ends.
func newBrowser(t testing.TB, execPath string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser now, so a broken installation fails here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", execPath, err)
	}
	return ctx
}

// TestBrowserCheckout is a buyer in a real browser, on the page as a
// Chinese-speaking buyer sees it (Chinese first, English beside it): the
// catalogue's loading and failure states and its retry; the quantity
// limit explained; then, per channel, pick a product, check out, see the
// QR code load with the basket locked, simulate the payment, see the
// status turn paid with "Check out" still disabled, and start over; and
// last, the error a buyer sees when the shop's order limit is reached.
// It saves a screenshot of each state.
func TestBrowserCheckout(t *testing.T) {
	t.Parallel()
	browser := newBrowser(t, chromiumPath(t))
	dir := artefactDir(t)
	cfg := testConfig(t)
	// Three orders, one per channel, one abandoned, then the limit: the
	// last step shows its error. The bucket refills too slowly to matter
	// in the test.
	cfg.orderLimit = newLimiter(0.0001, 4, time.Now)
	shop := startShop(t, cfg)

	var (
		mu         sync.Mutex
		exceptions []string
	)
	paused := make(chan *fetch.EventRequestPaused, 4)
	err := chromedp.Listen(browser, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if ex := e.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
			mu.Lock()
			exceptions = append(exceptions, msg)
			mu.Unlock()
		case *fetch.EventRequestPaused:
			paused <- e
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(browser, 120*time.Second)
	defer cancel()
	text := func(t testing.TB, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
	js := func(t testing.TB, expr string) bool {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("evaluating %s: %v", expr, err)
		}
		return ok
	}
	// basketLocked reports whether every basket control is disabled.
	const basketLocked = `[...document.querySelectorAll("#products button, input[name=channel], #quantity, #checkout")].every((e) => e.disabled)`

	t.Run("catalogue loading, failing and retried", func(t *testing.T) {
		if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/products*"}}}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(shop.URL+"/")); err != nil {
			t.Fatalf("loading the page: %v", err)
		}
		var req *fetch.EventRequestPaused
		select {
		case req = <-paused:
		case <-ctx.Done():
			t.Fatal("the page never asked for the catalogue")
		}
		if got := text(t, "#loading"); !strings.HasPrefix(got, "正在加载商品") || !strings.Contains(got, "Loading products") {
			t.Errorf("loading state: got %q, want Chinese first, then English", got)
		}
		if !js(t, `document.documentElement.lang === "zh-CN" && document.querySelector("h2").textContent.includes("选择商品")`) {
			t.Error("the page is not Chinese-first")
		}
		screenshot(t, ctx, filepath.Join(dir, "checkout-loading.png"))
		if _, err := chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: req.RequestID, ErrorReason: network.ErrorReasonConnectionRefused}); err != nil {
			t.Fatal(err)
		}
		if got := text(t, "#load-failed"); !strings.Contains(got, "商品加载失败") {
			t.Errorf("failure state: got %q", got)
		}
		if !js(t, `document.getElementById("loading").hidden && document.getElementById("checkout").disabled`) {
			t.Error("after the failure: the loading note stays or Check out is enabled")
		}
		screenshot(t, ctx, filepath.Join(dir, "checkout-load-failed.png"))
		if _, err := chromedp.Call(ctx, fetch.Disable, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS("#retry"), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(`#products button[data-product="latte"]`)),
			chromedp.WaitNotVisible(chromedp.CSS("#load-failed")),
		)
		if err != nil {
			t.Fatalf("retrying: %v", err)
		}
		if mode := text(t, "#mode"); !strings.Contains(mode, "网关模拟器") || !strings.Contains(mode, "simulator") {
			t.Errorf("mode badge: got %q, want it to say simulator in both languages", mode)
		}
	})

	t.Run("quantity limit explained", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#products button[data-product="latte"]`), chromedp.NodeVisible)); err != nil {
			t.Fatal(err)
		}
		js(t, setQuantity("500"))
		if got := text(t, "#quantity-error"); !strings.Contains(got, "1 到 99") || !strings.Contains(got, "1 to 99") {
			t.Errorf("quantity error: got %q", got)
		}
		if !js(t, `document.getElementById("checkout").disabled`) {
			t.Error("Check out is enabled for quantity 500")
		}
		if got := text(t, ".limits"); !strings.Contains(got, "2 个订单") || !strings.Contains(got, "2 a second") {
			t.Errorf("order limit note: got %q", got)
		}
		screenshot(t, ctx, filepath.Join(dir, "checkout-quantity-error.png"))
		js(t, setQuantity("1"))
		if !js(t, `document.getElementById("quantity-error").hidden && !document.getElementById("checkout").disabled`) {
			t.Error("quantity 1: the error stays or Check out is disabled")
		}
	})

	for _, tt := range []struct{ channel, product, other, amount string }{
		{"wechat", "latte", "beans", "¥18.00"},
		{"alipay", "beans", "latte", "¥68.00"},
		{"ecny", "mug", "latte", "¥45.00"},
	} {
		t.Run(tt.channel, func(t *testing.T) {
			err := chromedp.Do(ctx,
				chromedp.Click(chromedp.CSS(`#products button[data-product="`+tt.product+`"]`), chromedp.NodeVisible),
				chromedp.Click(chromedp.CSS(`label.channel.`+tt.channel), chromedp.NodeVisible),
				chromedp.Click(chromedp.CSS(`#checkout:not([disabled])`), chromedp.NodeVisible),
				chromedp.WaitVisible(chromedp.CSS(`#payment`)),
			)
			if err != nil {
				t.Fatalf("checking out: %v", err)
			}
			// naturalWidth stays 0 until the PNG has loaded and decoded.
			qrWidth, err := chromedp.Run(ctx, chromedp.Poll[int](
				`(() => { const i = document.getElementById("qr"); return i.complete && i.naturalWidth; })()`,
				chromedp.WithPollingTimeout(30*time.Second)))
			if err != nil || qrWidth <= 0 {
				t.Fatalf("QR image naturalWidth: got %d (%v), want > 0", qrWidth, err)
			}
			if got := text(t, "#amount"); got != tt.amount {
				t.Errorf("amount shown: got %q, want %q", got, tt.amount)
			}
			// The basket is locked while the code is shown: the total
			// cannot drift from the amount of the code.
			if !js(t, basketLocked) || text(t, "#locked") == "" {
				t.Error("the basket is live while a payment is open")
			}
			if got := text(t, "#total"); got != tt.amount {
				t.Errorf("total beside the code: got %q, want %q", got, tt.amount)
			}
			outTradeNo := text(t, "#out-trade-no")
			if sim := text(t, "#simulate"); sim != "模拟付款 Simulate payment" {
				t.Errorf("simulate button: got %q, want %q", sim, "模拟付款 Simulate payment")
			}
			screenshot(t, ctx, filepath.Join(dir, "checkout-"+tt.channel+"-qr.png"))

			err = chromedp.Do(ctx,
				chromedp.Click(chromedp.CSS(`#simulate`), chromedp.NodeVisible),
				chromedp.WaitVisible(chromedp.CSS(`#status[data-status="PAID"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#again`)),
			)
			if err != nil {
				t.Fatalf("paying %s: %v", outTradeNo, err)
			}
			if got := text(t, "#status"); got != "已支付 paid" {
				t.Errorf("status shown: got %q, want %q", got, "已支付 paid")
			}
			if !js(t, basketLocked) {
				t.Error("Check out (or the basket) is enabled after payment")
			}
			// The note under the basket no longer calls the payment open.
			if got := text(t, "#locked"); !strings.Contains(got, "已支付") || !strings.Contains(got, "is paid") || strings.Contains(got, "open") || strings.Contains(got, "支付中") {
				t.Errorf("basket note after payment: got %q, want it to say the order is paid", got)
			}
			screenshot(t, ctx, filepath.Join(dir, "checkout-"+tt.channel+"-paid.png"))

			var st orderStatus
			token := newStatusTokens(cfg).mint(text(t, "#order-id"))
			if shop.do(t, "GET", "/pay/orders/"+outTradeNo+"?token="+token, nil, &st); st.Status != "PAID" || !st.Fulfilled {
				t.Errorf("server says %+v, want PAID and fulfilled", st)
			}
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#again`)), chromedp.WaitNotVisible(chromedp.CSS(`#payment`))); err != nil {
				t.Fatalf("starting over: %v", err)
			}
			if js(t, basketLocked) || !js(t, `document.getElementById("locked").hidden`) {
				t.Error("the basket stays locked after starting over")
			}
		})
	}

	// Abandon closes the attempt at the shop and the gateway (the buyer's
	// token authorises it), then unlocks the basket.
	t.Run("abandon", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#products button[data-product="latte"]`), chromedp.NodeVisible),
			chromedp.Click(chromedp.CSS(`label.channel.wechat`), chromedp.NodeVisible),
			chromedp.Click(chromedp.CSS(`#checkout:not([disabled])`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(`#abandon`)),
		)
		if err != nil {
			t.Fatalf("checking out: %v", err)
		}
		outTradeNo, orderID := text(t, "#out-trade-no"), text(t, "#order-id")
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#abandon`)), chromedp.WaitNotVisible(chromedp.CSS(`#payment`))); err != nil {
			t.Fatalf("abandoning %s: %v", outTradeNo, err)
		}
		var st orderStatus
		token := newStatusTokens(cfg).mint(orderID)
		if code := shop.do(t, "GET", "/pay/orders/"+outTradeNo+"?token="+token, nil, &st); code != 200 || st.Status != "CLOSED" {
			t.Errorf("server says %d %+v, want CLOSED after Abandon", code, st)
		}
		if js(t, basketLocked) {
			t.Error("the basket stays locked after Abandon")
		}
	})

	t.Run("order limit reached", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#products button[data-product="croissant"]`), chromedp.NodeVisible),
			chromedp.Click(chromedp.CSS(`#checkout:not([disabled])`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(`#error`)),
		)
		if err != nil {
			t.Fatalf("checking out past the limit: %v", err)
		}
		if got := text(t, "#error"); !strings.Contains(got, "下单太频繁") || !strings.Contains(got, "too many new orders") {
			t.Errorf("error shown: got %q", got)
		}
		if !js(t, `document.getElementById("payment").hidden && !document.getElementById("checkout").disabled`) {
			t.Error("after a refused order: a payment is shown or Check out stays disabled")
		}
		screenshot(t, ctx, filepath.Join(dir, "checkout-limit-error.png"))
	})

	mu.Lock()
	defer mu.Unlock()
	if len(exceptions) > 0 {
		t.Errorf("the page threw: %q", exceptions)
	}
}

// setQuantity is a script that types q into the quantity box as a buyer
// would (an input event follows) and evaluates to true.
func setQuantity(q string) string {
	return `(() => { const q = document.getElementById("quantity"); q.value = "` + q + `"; q.dispatchEvent(new Event("input")); return true; })()`
}

// screenshot saves the page as a PNG artefact and logs where.
func screenshot(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
