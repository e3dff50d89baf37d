package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// buy creates an order of product and its attempt; with pay, the
// simulated buyer pays it and buy waits until it is settled.
func buy(t *testing.T, shop *testShop, product string, pay bool) (createOrderResponse, string) {
	t.Helper()
	var order createOrderResponse
	if code := shop.do(t, "POST", "/api/orders", map[string]any{"product_id": product, "quantity": 1}, &order); code != http.StatusCreated {
		t.Fatalf("POST /api/orders: got %d", code)
	}
	var pre preOrderReply
	if code := shop.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "WECHAT", "trade_type": "NATIVE"}, &pre); code != http.StatusCreated {
		t.Fatalf("POST /pay/preorder: got %d", code)
	}
	if pay {
		if code := shop.do(t, "POST", "/sim/pay/"+pre.OutTradeNo, nil, nil); code != http.StatusOK {
			t.Fatalf("POST /sim/pay: got %d", code)
		}
		shop.waitSettled(t, pre.OutTradeNo, order.StatusToken)
	}
	return order, pre.OutTradeNo
}

// TestBrowserBackOffice is a clerk in a real browser: open the back
// office (a wrong token first), see the reconciler's backlog and last
// pass and an alert, see the orders under the kit's status names, filter
// them by status, filter the inbox to the failed notification and read
// it, open an attempt and its event history, and refund part of a paid
// order: an amount
// over what is left is refused with the remainder named and nothing
// sent, then a partial amount is checked, shown for confirmation, and
// only then sent; the order stays PAID with the rest still refundable.
func TestBrowserBackOffice(t *testing.T) {
	t.Parallel()
	browser := newBrowser(t, chromiumPath(t))
	dir := artefactDir(t)
	s := startAdminShop(t)
	// The reconciler runs as in the shop, so that its last pass shows.
	rctx, stop := context.WithCancel(context.Background())
	reconciled := make(chan error, 1)
	go func() { reconciled <- s.app.runReconciler(rctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-reconciled; err != nil {
			t.Errorf("reconciler: %v", err)
		}
	})
	shop := s.testShop
	latte, latteOTN := buy(t, shop, "latte", true)
	mug, _ := buy(t, shop, "mug", true)
	open, _ := buy(t, shop, "croissant", false)
	// Paid after the shop closed it: a verified notification answered
	// fail, and an alert.
	closed := s.paidAfterClose(t)
	s.waitInbox(t, "/admin/inbox?failed=1", closed)

	ctx, cancel := context.WithTimeout(browser, 120*time.Second)
	defer cancel()
	js := func(t *testing.T, expr string) bool {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("evaluating %s: %v", expr, err)
		}
		return ok
	}
	waitJS := func(t *testing.T, what, expr string) {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil || !ok {
			t.Fatalf("waiting for %s: got %v (%v)", what, ok, err)
		}
	}
	text := func(t *testing.T, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
	// sentRefunds is how many refunds the server recorded for the latte.
	sentRefunds := func(t *testing.T) int {
		t.Helper()
		req, _ := http.NewRequest("GET", shop.URL+"/admin/orders", nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var rows []adminOrder
		if err := json.NewDecoder(res.Body).Decode(&rows); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.OrderID == latte.OrderID {
				return len(r.Refunds)
			}
		}
		t.Fatalf("order %s not listed", latte.OrderID)
		return 0
	}
	row := func(o createOrderResponse) string { return `tr[data-order="` + o.OrderID + `"]` }
	visibleRows := `document.querySelectorAll("#orders tbody tr").length`

	t.Run("token", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.Navigate(shop.URL+"/admin"),
			chromedp.WaitVisible(chromedp.CSS(`#token`)),
			chromedp.SendKeys(chromedp.CSS(`#token`), "wrong"),
			chromedp.Click(chromedp.CSS(`#login button[type="submit"]`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(`#auth-error`)),
		)
		if err != nil {
			t.Fatalf("wrong token: %v", err)
		}
		if !js(t, `document.getElementById("office").hidden`) {
			t.Error("the back office shows with a wrong token")
		}
		err = chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS(`#token`), testAdminToken),
			chromedp.Click(chromedp.CSS(`#login button[type="submit"]`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(row(latte)+` button.refund`)),
		)
		if err != nil {
			t.Fatalf("opening the back office: %v", err)
		}
	})

	t.Run("reconciler and statuses", func(t *testing.T) {
		waitJS(t, "the backlog of one PENDING attempt", `document.getElementById("pending").textContent === "1"`)
		waitJS(t, "the reconciler's last pass", `document.getElementById("last-pass").textContent.includes("秒前 s ago")`)
		if got := text(t, "#ready"); !strings.Contains(got, "ready") {
			t.Errorf("readiness: got %q", got)
		}
		if got := text(t, row(open)+` td.order-status`); got != "PENDING" {
			t.Errorf("open order's status: got %q, want the kit's PENDING", got)
		}
		if js(t, `document.body.innerText.includes("UNPAID")`) {
			t.Error(`the back office says "UNPAID": the kit's name is PENDING`)
		}
		if got := text(t, `#alerts tr[data-kind="paid_after_close"] td:nth-child(4)`); got != closed {
			t.Errorf("alert of the closed attempt paid: got %q, want %s", got, closed)
		}
		screenshot(t, ctx, filepath.Join(dir, "admin-office.png"))
	})

	t.Run("filter", func(t *testing.T) {
		filter := func(status string) {
			js(t, `(() => { const f = document.getElementById("status-filter"); f.value = "`+status+`"; f.dispatchEvent(new Event("change")); return true; })()`)
		}
		filter("PENDING")
		waitJS(t, "only the open order", visibleRows+` === 1 && !!document.querySelector('`+row(open)+`')`)
		filter("PAID")
		waitJS(t, "only the two paid orders", visibleRows+` === 2 && !document.querySelector('`+row(open)+`')`)
		screenshot(t, ctx, filepath.Join(dir, "admin-filter-paid.png"))
		if got := text(t, "#orders-count"); got != "2 / 4" {
			t.Errorf("count: got %q, want 2 / 4", got)
		}
		filter("CLOSED")
		waitJS(t, "only the closed order", visibleRows+` === 1 && document.querySelector("#orders tbody tr").dataset.status === "CLOSED"`)
		filter("")
		waitJS(t, "every order again", visibleRows+` === 4`)
		if !js(t, `!!document.querySelector('`+row(mug)+`')`) {
			t.Error("the mug's order is not listed")
		}
	})

	t.Run("inbox", func(t *testing.T) {
		inboxRows := `document.querySelectorAll("#inbox tbody tr").length`
		waitJS(t, "the three notifications", inboxRows+` === 3`)
		if !js(t, `document.querySelector("#inbox tbody tr").dataset.reply === "fail"`) {
			t.Error("the newest notification, the closed attempt's, is not shown as failed")
		}
		if !js(t, `(() => { const f = document.getElementById("inbox-failed"); f.click(); return f.checked; })()`) {
			t.Fatal("the failed-only box did not check")
		}
		waitJS(t, "only the failed notification", inboxRows+` === 1 && document.querySelector("#inbox tbody tr td:nth-child(3)").textContent === "`+closed+`"`)
		screenshot(t, ctx, filepath.Join(dir, "admin-inbox-failed.png"))
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#inbox tbody tr button.inbox-show`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(`#inbox-body`)),
		)
		if err != nil {
			t.Fatalf("showing the notification: %v", err)
		}
		if got := text(t, "#inbox-body"); !strings.Contains(got, "out_trade_no="+closed) || !strings.Contains(got, "sign=") {
			t.Errorf("notification body: got %q, want it as it arrived", got)
		}
		js(t, `(() => { document.getElementById("inbox-failed").click(); return true; })()`)
		waitJS(t, "every notification again", inboxRows+` === 3`)
	})

	t.Run("attempt", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(row(latte)+` button.attempt`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(`#attempt-facts dd[data-field="transaction_id"]`)),
		)
		if err != nil {
			t.Fatalf("opening the attempt: %v", err)
		}
		if got := text(t, `#attempt-facts dd[data-field="status"]`); got != "PAID" {
			t.Errorf("attempt status: got %q, want PAID", got)
		}
		if got := text(t, `#attempt-otn`); got != latteOTN {
			t.Errorf("attempt shown: got %q, want %s", got, latteOTN)
		}
		// Why it is PAID: its history, with the notification that settled it.
		for _, kind := range []string{"created", "preordered", "notified"} {
			waitJS(t, "the "+kind+" event", `!!document.querySelector('#attempt-events tr[data-kind="`+kind+`"]')`)
		}
		if got := text(t, `#attempt-events tr[data-kind="notified"] td:nth-child(4)`); got != "settled" {
			t.Errorf("the notification's outcome: got %q, want settled", got)
		}
		screenshot(t, ctx, filepath.Join(dir, "admin-attempt.png"))
	})

	t.Run("partial refund with confirmation", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(row(latte)+` button.refund`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(`#refund-amount`)),
		)
		if err != nil {
			t.Fatalf("opening the refund: %v", err)
		}
		if !js(t, `document.getElementById("refund-amount").value === "18.00"`) {
			t.Error("the amount is not prefilled with what is left, 18.00")
		}
		// More than was paid: refused, with what is left, nothing sent.
		err = chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS(`#refund-amount`), "20.00"),
			chromedp.Click(chromedp.CSS(`#refund-review`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(`#refund-error`)),
		)
		if err != nil {
			t.Fatalf("reviewing 20.00: %v", err)
		}
		if got := text(t, "#refund-error"); !strings.Contains(got, "¥18.00") || !strings.Contains(got, "left to refund") {
			t.Errorf("over the remainder: got %q, want it to name the ¥18.00 left", got)
		}
		if !js(t, `document.getElementById("refund-confirm").hidden`) {
			t.Error("a confirmation is offered for an amount over the remainder")
		}
		screenshot(t, ctx, filepath.Join(dir, "admin-refund-over.png"))
		// A bad form of amount: refused too.
		err = chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS(`#refund-amount`), "5.5"),
			chromedp.Click(chromedp.CSS(`#refund-review`), chromedp.NodeVisible),
		)
		if err != nil {
			t.Fatal(err)
		}
		waitJS(t, "the amount's form explained", `document.getElementById("refund-error").textContent.includes("two decimals")`)
		// 5.00: checked, shown, and not sent until confirmed.
		err = chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS(`#refund-amount`), "5.00"),
			chromedp.SetValue(chromedp.CSS(`#refund-reason`), "spilt"),
			chromedp.Click(chromedp.CSS(`#refund-review`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(`#refund-confirm-yes`)),
		)
		if err != nil {
			t.Fatalf("reviewing 5.00: %v", err)
		}
		if got := text(t, "#refund-confirm-text"); !strings.Contains(got, "¥5.00") || !strings.Contains(got, "500") || !strings.Contains(got, "¥13.00") {
			t.Errorf("confirmation: got %q, want ¥5.00, 500 fen and ¥13.00 left after", got)
		}
		if n := sentRefunds(t); n != 0 {
			t.Fatalf("refunds before the confirmation: got %d, want 0", n)
		}
		screenshot(t, ctx, filepath.Join(dir, "admin-refund-confirm.png"))
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#refund-confirm-yes`), chromedp.NodeVisible)); err != nil {
			t.Fatalf("confirming: %v", err)
		}
		waitJS(t, "refund SUCCESS", `(() => { const c = document.querySelector("#refunds td.refund-status"); return !!c && c.textContent === "SUCCESS"; })()`)
		waitJS(t, "¥5.00 refunded, ¥13.00 left", `(() => { const r = document.querySelector('`+row(latte)+`'); return !!r && r.querySelector("td.refunded").textContent === "¥5.00" && r.querySelector("td.refundable").textContent === "¥13.00"; })()`)
		if got := text(t, row(latte)+` td.order-status`); got != "PAID" {
			t.Errorf("after a partial refund: got %q, want PAID", got)
		}
		if !js(t, `!!document.querySelector('`+row(latte)+` button.refund')`) {
			t.Error("no refund button for the ¥13.00 left")
		}
		screenshot(t, ctx, filepath.Join(dir, "admin-refunded.png"))
		if n := sentRefunds(t); n != 1 {
			t.Errorf("refunds recorded: got %d, want 1", n)
		}
		var st map[string]any
		if shop.do(t, "GET", "/pay/orders/"+latteOTN+"?token="+url.QueryEscape(latte.StatusToken), nil, &st); st["refunded"] != float64(500) || st["status"] != "PAID" {
			t.Errorf("server says %v, want PAID with refunded 500", st)
		}
	})
}
