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

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
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

// TestBrowserCheckout is a buyer in a real browser: pick a product, pick a
// channel, check out, see the QR code load, simulate the payment, and see
// the status turn "paid" without reloading the page. It saves a
// screenshot per channel.
func TestBrowserCheckout(t *testing.T) {
	browser := newBrowser(t, chromiumPath(t))
	dir := artefactDir(t)
	cfg := testConfig(t)
	shop := startShop(t, cfg)

	var (
		mu         sync.Mutex
		exceptions []string
	)
	err := chromedp.Listen(browser, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			msg := e.ExceptionDetails.Text
			if ex := e.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
			mu.Lock()
			exceptions = append(exceptions, msg)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	text := func(t testing.TB, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(shop.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#products button[data-product="latte"]`)),
	); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	if mode := text(t, "#mode"); !strings.Contains(mode, "simulator") {
		t.Errorf("mode badge: got %q, want it to say simulator", mode)
	}

	for _, tt := range []struct{ channel, product, amount string }{
		{"wechat", "latte", "¥18.00"},
		{"alipay", "beans", "¥68.00"},
		{"ecny", "mug", "¥45.00"},
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
			outTradeNo := text(t, "#out-trade-no")
			if sim := text(t, "#simulate"); sim != "Simulate payment" {
				t.Errorf("simulate button: got %q, want %q", sim, "Simulate payment")
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
			if got := text(t, "#status"); got != "paid" {
				t.Errorf("status shown: got %q, want %q", got, "paid")
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
		})
	}

	mu.Lock()
	defer mu.Unlock()
	if len(exceptions) > 0 {
		t.Errorf("the page threw: %q", exceptions)
	}
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
