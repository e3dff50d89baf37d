package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cypaykit/kit/internal/skipnote"
	"github.com/cypaykit/kit/internal/testtables"
)

// probeTimeout bounds the check that a test service answers. It is
// generous because a loaded machine can take seconds to accept a
// connection (3 s was missed under load); a service that is not running
// refuses at once.
const probeTimeout = 30 * time.Second

// envOr returns $name, or def when it is empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// serverDB checks that the database server at dsn (a -db URL, from $env)
// is reachable, skipping when it is not (failing under CI=true), and
// returns a table prefix whose tables are dropped when t ends.
func serverDB(t testing.TB, env, dsn string) (prefix string) {
	t.Helper()
	target, _, err := parseDB(dsn)
	if err != nil {
		t.Fatalf("$%s: %v", env, err)
	}
	kind := target.Dialect
	db, err := sql.Open(target.Driver, target.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s unreachable under CI=true (set $%s): %v", kind, env, err)
		}
		skipnote.Note(env)
		t.Skipf("%s unreachable (set $%s to point at one): %v", kind, env, err)
	}
	var b [4]byte
	rand.Read(b[:])
	prefix = "ex" + hex.EncodeToString(b[:]) + "_"
	// Every table of the prefix, the kit's and the shop's, as the
	// catalogue lists them: a fixed list here had missed those that later
	// migrations added.
	t.Cleanup(func() { testtables.DropT(t, db, string(kind), prefix) })
	return prefix
}

// mysqlURL turns the driver DSN of $CYPAY_TEST_MYSQL into the shop's
// mysql:// form.
func mysqlURL(t testing.TB, dsn string) string {
	t.Helper()
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("$CYPAY_TEST_MYSQL: %v", err)
	}
	u := url.URL{Scheme: "mysql", Host: c.Addr, Path: "/" + c.DBName}
	if c.Passwd != "" {
		u.User = url.UserPassword(c.User, c.Passwd)
	} else if c.User != "" {
		u.User = url.User(c.User)
	}
	return u.String()
}

// TestServerDatabases pays an order with -db pointing at PostgreSQL and
// at MySQL / MariaDB.
func TestServerDatabases(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, env, dbURL string }{
		{"postgres", "CYPAY_TEST_POSTGRES", envOr("CYPAY_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")},
		{"mysql", "CYPAY_TEST_MYSQL", mysqlURL(t, envOr("CYPAY_TEST_MYSQL", "root@tcp(127.0.0.1:3306)/test?parseTime=true"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prefix := serverDB(t, tt.env, tt.dbURL)
			cfg := testConfig(t, "-db", tt.dbURL)
			cfg.tablePrefix = prefix
			shop := startShop(t, cfg)
			var order createOrderResponse
			shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "croissant", "quantity": 3}, &order)
			var pre preOrderReply
			if code := shop.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "ECNY", "trade_type": "NATIVE"}, &pre); code != http.StatusCreated {
				t.Fatalf("POST /pay/preorder: got %d, want 201", code)
			}
			shop.do(t, "POST", "/sim/pay/"+pre.OutTradeNo, nil, nil)
			if st := shop.waitSettled(t, pre.OutTradeNo, order.StatusToken); st.Amount != 3600 {
				t.Errorf("amount: got %d, want 3600", st.Amount)
			}
			// Business orders live in the same database: another shop
			// process on it knows an order this one created.
			shop.do(t, "POST", "/api/orders", map[string]any{"product_id": "mug", "quantity": 2}, &order)
			other := startShop(t, cfg)
			if code := other.do(t, "POST", payPath(order), map[string]string{"order_id": order.OrderID, "channel": "WECHAT"}, &pre); code != http.StatusCreated || pre.Amount != 9000 {
				t.Errorf("pre-order on another process: got %d %+v, want 201 and 9000", code, pre)
			}
		})
	}
}
