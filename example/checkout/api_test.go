package main

import (
	"bytes"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	qr "github.com/piglig/go-qr"
)

type preOrderReply struct {
	OutTradeNo string `json:"out_trade_no"`
	OrderID    string `json:"order_id"`
	Amount     int64  `json:"amount"`
	CodeURL    string `json:"code_url"`
	Status     string `json:"status"`
}

// payPath is the pre-order route with the order's token, which the shop
// requires of whoever starts the order's payment.
func payPath(order createOrderResponse) string {
	return "/pay/preorder?token=" + url.QueryEscape(order.StatusToken)
}

// TestCheckoutOverHTTP walks the README's API for every channel under both
// protocol versions: products, order, pre-order, QR code, simulated
// payment, and the status turning PAID and fulfilled through the
// simulator's signed notification.
func TestCheckoutOverHTTP(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"v2", "v1"} {
		t.Run(version, func(t *testing.T) {
			shop := startShop(t, testConfig(t, "-version", version))

			var products []product
			if code := shop.do(t, "GET", "/api/products", nil, &products); code != http.StatusOK {
				t.Fatalf("GET /api/products: got %d, want 200", code)
			}
			if diff := cmp.Diff(catalogue, products); diff != "" {
				t.Fatalf("GET /api/products (-want +got):\n%s", diff)
			}

			for _, channel := range []string{"WECHAT", "ALIPAY", "ECNY"} {
				t.Run(channel, func(t *testing.T) {
					var order createOrderResponse
					if code := shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "beans", "quantity": 2}, &order); code != http.StatusCreated {
						t.Fatalf("POST /api/orders: got %d, want 201", code)
					}
					if want := 2 * int64(6800); order.Amount != want {
						t.Errorf("order amount: got %d, want %d from the catalogue", order.Amount, want)
					}

					var pre preOrderReply
					body := map[string]string{"order_id": order.OrderID, "channel": channel, "trade_type": "NATIVE"}
					if code := shop.do(t, "POST", payPath(order), body, &pre); code != http.StatusCreated {
						t.Fatalf("POST /pay/preorder: got %d, want 201", code)
					}
					if pre.Status != "PENDING" || pre.CodeURL == "" || pre.OutTradeNo == "" || pre.Amount != order.Amount {
						t.Fatalf("pre-order: got %+v, want PENDING with a code_url and amount %d", pre, order.Amount)
					}
					if got := decodeQR(t, shop, pre.CodeURL); got != pre.CodeURL {
						t.Errorf("QR code reads %q, want the code_url %q", got, pre.CodeURL)
					}

					if code := shop.do(t, "POST", "/sim/pay/"+pre.OutTradeNo, nil, nil); code != http.StatusOK {
						t.Fatalf("POST /sim/pay: got %d, want 200", code)
					}
					st := shop.waitSettled(t, pre.OutTradeNo, order.StatusToken)
					want := orderStatus{OutTradeNo: pre.OutTradeNo, OrderID: order.OrderID, Amount: order.Amount, Status: "PAID", Fulfilled: true, TransactionID: st.TransactionID}
					if diff := cmp.Diff(want, st); diff != "" || st.TransactionID == "" {
						t.Errorf("status (-want +got):\n%s(transaction_id %q)", diff, st.TransactionID)
					}

					if code := shop.do(t, "POST", "/sim/pay/"+pre.OutTradeNo, nil, nil); code != http.StatusConflict {
						t.Errorf("paying twice: got %d, want 409", code)
					}
					if code := shop.do(t, "POST", payPath(order), body, nil); code != http.StatusConflict {
						t.Errorf("pre-order of a paid order: got %d, want 409", code)
					}
				})
			}
		})
	}
}

// decodeQR fetches /qr.png for text and reads the code back.
func decodeQR(t testing.TB, shop *testShop, text string) string {
	t.Helper()
	res, err := http.Get(shop.URL + "/qr.png?text=" + url.QueryEscape(text))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET /qr.png: got %d %q, want 200 image/png", res.StatusCode, res.Header.Get("Content-Type"))
	}
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("GET /qr.png: not a PNG: %v", err)
	}
	got, err := qr.Decode(img)
	if err != nil {
		t.Fatalf("GET /qr.png: no QR code in the image: %v", err)
	}
	return got
}

// TestBadRequests shows that the shop refuses what it cannot price or
// read, and that an amount from the client is refused, not used.
func TestBadRequests(t *testing.T) {
	cfg := testConfig(t, "-db", "memory")
	shop := startShop(t, cfg)
	var order createOrderResponse
	if code := shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "latte", "quantity": 1}, &order); code != http.StatusCreated {
		t.Fatalf("POST /api/orders: got %d, want 201", code)
	}
	tests := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"order with an amount", "POST", "/api/orders", `{"product_id":"latte","quantity":1,"amount":1}`, http.StatusBadRequest},
		{"unknown product", "POST", "/api/orders", `{"product_id":"caviar","quantity":1}`, http.StatusNotFound},
		{"zero quantity", "POST", "/api/orders", `{"product_id":"latte","quantity":0}`, http.StatusBadRequest},
		{"too many", "POST", "/api/orders", `{"product_id":"latte","quantity":100}`, http.StatusBadRequest},
		{"not JSON", "POST", "/api/orders", `product_id=latte`, http.StatusBadRequest},
		{"two objects", "POST", "/api/orders", `{"product_id":"latte","quantity":1}{}`, http.StatusBadRequest},
		{"huge body", "POST", "/api/orders", `{"product_id":"` + strings.Repeat("x", maxJSONBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"pre-order with an amount", "POST", payPath(order), map[string]any{"order_id": order.OrderID, "channel": "WECHAT", "trade_type": "NATIVE", "amount": 1}, http.StatusBadRequest},
		{"pre-order of an unknown order", "POST", "/pay/preorder?token=" + newStatusTokens(cfg).mint("D1"), map[string]any{"order_id": "D1", "channel": "WECHAT", "trade_type": "NATIVE"}, http.StatusNotFound},
		{"unknown attempt", "GET", "/pay/orders/nosuchorder", nil, http.StatusNotFound},
		{"simulate an unknown attempt", "POST", "/sim/pay/nosuchorder", nil, http.StatusNotFound},
		{"QR without text", "GET", "/qr.png", nil, http.StatusBadRequest},
		{"QR too long", "GET", "/qr.png?text=" + strings.Repeat("x", maxQRText+1), nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shop.do(t, tt.method, tt.path, tt.body, nil); got != tt.want {
				t.Errorf("%s %s: got %d, want %d", tt.method, tt.path, got, tt.want)
			}
		})
	}

	t.Run("wrong content type", func(t *testing.T) {
		res, err := http.Post(shop.URL+"/api/orders", "text/plain", strings.NewReader(`{"product_id":"latte","quantity":1}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("got %d, want 415", res.StatusCode)
		}
	})
}

// TestPaymentSurvivesRestart shows the SQLite file keeps a paid attempt
// across a restart of the shop.
func TestPaymentSurvivesRestart(t *testing.T) {
	cfg := testConfig(t)
	var (
		pre   preOrderReply
		order createOrderResponse
	)
	t.Run("pay", func(t *testing.T) {
		shop := startShop(t, cfg)
		shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "mug", "quantity": 1}, &order)
		if code := shop.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "ALIPAY", "trade_type": "NATIVE"}, &pre); code != http.StatusCreated {
			t.Fatalf("POST /pay/preorder: got %d, want 201", code)
		}
		shop.do(t, "POST", "/sim/pay/"+pre.OutTradeNo, nil, nil)
		shop.waitSettled(t, pre.OutTradeNo, order.StatusToken)
	})
	if pre.OutTradeNo == "" {
		t.Fatal("no attempt was paid")
	}
	shop := startShop(t, cfg)
	var st orderStatus
	if code := shop.do(t, "GET", "/pay/orders/"+pre.OutTradeNo+"?token="+order.StatusToken, nil, &st); code != http.StatusOK || st.Status != "PAID" || st.Amount != 4500 {
		t.Errorf("after restart: got %d %+v, want 200 PAID 4500", code, st)
	}
}

// TestPage shows the page and its assets are served from the binary.
func TestPage(t *testing.T) {
	shop := startShop(t, testConfig(t, "-db", "memory"))
	for _, tt := range []struct{ path, contentType, contains string }{
		{"/", "text/html", `id="checkout"`},
		{"/static/app.js", "text/javascript", "/pay/preorder"},
		{"/static/style.css", "text/css", "--wechat"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			res, err := http.Get(shop.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), tt.contentType) || !strings.Contains(string(body), tt.contains) {
				t.Errorf("GET %s: got %d %q (%d bytes), want 200 %s containing %q", tt.path, res.StatusCode, res.Header.Get("Content-Type"), len(body), tt.contentType, tt.contains)
			}
		})
	}
}
