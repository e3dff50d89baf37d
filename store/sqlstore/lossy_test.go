package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// errLostReply is what a driver reports when the database did the work but
// the reply never came back (the context ended, the connection dropped).
var errLostReply = errors.New("lossy: reply lost after the statement committed")

// lossyConnector opens connections that run every statement but, while
// lose is set, report errLostReply for the lease table's upsert: the
// case where a take commits and its caller never hears of it.
type lossyConnector struct {
	drv  driver.Driver
	dsn  string
	lose *atomic.Bool
}

func (c lossyConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return lossyConn{Conn: conn, lose: c.lose}, nil
}

func (c lossyConnector) Driver() driver.Driver { return c.drv }

type lossyConn struct {
	driver.Conn
	lose *atomic.Bool
}

func (c lossyConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	if err == nil && c.lose.Load() && strings.HasPrefix(query, "INSERT INTO") && strings.Contains(query, "leases") {
		return nil, errLostReply
	}
	return res, err
}

func (c lossyConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (c lossyConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// TestLockerFailedTakeLeavesNoLease: a take whose reply is lost may have
// committed; the Locker must not leave that lease behind, held by a token
// nobody has, until its TTL runs out (a minute here: every later caller
// would find the order's fulfilment "in flight" with nobody running it).
func TestLockerFailedTakeLeavesNoLease(t *testing.T) {
	tg := targets[0] // sqlite-file
	dsn := tg.newDSN(t)
	plain := tg.open(t, dsn)
	_, prefix := newStorePrefix(t, tg, plain)
	lose := new(atomic.Bool)
	db := sql.OpenDB(lossyConnector{drv: plain.Driver(), dsn: dsn, lose: lose})
	t.Cleanup(func() { db.Close() })
	l := newLocker(t, tg, db, prefix)
	ctx := context.Background()

	lose.Store(true)
	if tok, ok, err := l.TryAcquire(ctx, "job", time.Minute); !errors.Is(err, errLostReply) || ok {
		t.Fatalf("TryAcquire with a lost reply: got (%q, %v, %v), want %v", tok, ok, err, errLostReply)
	}
	// A bound, not a deadline the test needs: a lost reply must end
	// Acquire at once, well before it.
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err := l.Acquire(actx, "job2", time.Minute)
	cancel()
	if !errors.Is(err, errLostReply) {
		t.Fatalf("Acquire with a lost reply: got %v, want %v", err, errLostReply)
	}
	lose.Store(false)
	for _, name := range []string{"job", "job2"} {
		tok, ok, err := l.TryAcquire(ctx, name, time.Minute)
		if err != nil || !ok {
			t.Errorf("TryAcquire(%s) after a take whose reply was lost: got (%q, %v, %v), want the lease (nobody holds it)", name, tok, ok, err)
		}
	}
	var n int
	if err := plain.QueryRow("SELECT COUNT(*) FROM " + prefix + "leases").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("lease rows: got %d, want 2 (the two just taken)", n)
	}
}
