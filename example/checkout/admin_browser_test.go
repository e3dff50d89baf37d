package main

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserAdminRefund is a clerk in a real browser: open the back
// office, give the admin token, see the paid order, press its refund
// button, and see the refund succeed and the order turn REFUNDED.
func TestBrowserAdminRefund(t *testing.T) {
	browser := newBrowser(t, chromiumPath(t))
	dir := artefactDir(t)
	shop := startShop(t, testConfig(t, "-db", "memory", "-admin-token", testAdminToken))

	var order createOrderResponse
	if code := shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "latte", "quantity": 1}, &order); code != http.StatusCreated {
		t.Fatalf("POST /api/orders: got %d", code)
	}
	var pre preOrderReply
	if code := shop.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "WECHAT", "trade_type": "NATIVE"}, &pre); code != http.StatusCreated {
		t.Fatalf("POST /pay/preorder: got %d", code)
	}
	if code := shop.do(t, "POST", "/sim/pay/"+pre.OutTradeNo, nil, nil); code != http.StatusOK {
		t.Fatalf("POST /sim/pay: got %d", code)
	}
	shop.waitSettled(t, pre.OutTradeNo, order.StatusToken)

	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	row := `tr[data-order="` + order.OrderID + `"]`
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
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#token`), testAdminToken),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(row+` button.refund`)),
	)
	if err != nil {
		t.Fatalf("opening the back office: %v", err)
	}
	screenshot(t, ctx, filepath.Join(dir, "admin-paid.png"))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(row+` button.refund`), chromedp.NodeVisible)); err != nil {
		t.Fatalf("pressing refund: %v", err)
	}
	for _, check := range []struct{ what, js string }{
		{"refund SUCCESS", `(() => { const c = document.querySelector("#refunds td.refund-status"); return !!c && c.textContent === "SUCCESS"; })()`},
		{"order REFUNDED", `(() => { const c = document.querySelector('` + row + ` td.order-status'); return !!c && c.textContent === "REFUNDED"; })()`},
	} {
		ok, err := chromedp.Run(ctx, chromedp.Poll[bool](check.js, chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil || !ok {
			t.Fatalf("waiting for %s: got %v (%v)", check.what, ok, err)
		}
	}
	screenshot(t, ctx, filepath.Join(dir, "admin-refunded.png"))
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+row+` button.refund').length`)); err != nil || n != 0 {
		t.Errorf("refund buttons on a fully refunded order: got %d (%v), want 0", n, err)
	}
	var st map[string]any
	if shop.do(t, "GET", "/pay/orders/"+pre.OutTradeNo+"?token="+url.QueryEscape(order.StatusToken), nil, &st); st["refunded"] != float64(1800) || st["status"] != "REFUNDED" {
		t.Errorf("server says %v, want REFUNDED with refunded 1800", st)
	}
}
