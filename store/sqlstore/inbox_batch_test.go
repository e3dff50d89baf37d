package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/sqlstore"
	"github.com/cypaykit/kit/store/sqlstore/sqlsim"
)

// batchItems returns k inbox items for attempts prefix+from, prefix+from+1, …
func batchItems(prefix string, k, from int) []*store.InboxItem {
	out := make([]*store.InboxItem, k)
	for i := range out {
		out[i] = &store.InboxItem{ReceivedAt: time.Now(), Instance: "h", OutTradeNo: fmt.Sprintf("%s%05d", prefix, from+i),
			Body: []byte("a=1"), Outcome: "settled", Reply: store.ReplySuccess, Status: 200}
	}
	return out
}

// TestInboxBatchIsOneStatement counts, with a counting driver, what
// AddInboxBatch and AddEvents send on each dialect: a batch of 20 rows
// is one multi-row INSERT and no transaction (one statement, one commit),
// which is what makes the handler's background writer cheaper than one
// INSERT per notification; 150 rows are three INSERTs of at most 64 rows
// in one transaction. The first MySQL batch also reads
// auto_increment_increment once.
func TestInboxBatchIsOneStatement(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target, dsn string, db *sql.DB) {
		if tg.name == "sqlite-memory" {
			t.Skip("the same statements as sqlite-file")
		}
		prefix := newPrefix(t, tg, db)
		cdb, n := countingDB(t, tg, dsn)
		cdb.SetMaxOpenConns(1)
		s, err := sqlstore.New(cdb, sqlstore.Config{Dialect: tg.dialect, TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		items := func(k, from int) []*store.InboxItem { return batchItems("BATCH", k, from) }
		if _, err := s.AddInboxBatch(ctx, items(2, 0)); err != nil { // warm: MySQL's step, prepared statements
			t.Fatal(err)
		}
		for _, tc := range []struct {
			rows, statements, transactions int
		}{{20, 1, 0}, {150, 3, 1}} {
			n.take()
			ids, err := s.AddInboxBatch(ctx, items(tc.rows, 1000))
			statements, txns, _, log := n.take()
			if err != nil || len(ids) != tc.rows {
				t.Fatalf("AddInboxBatch of %d: %d IDs, %v", tc.rows, len(ids), err)
			}
			inserts := 0
			for _, q := range log {
				if strings.HasPrefix(q, "INSERT INTO") {
					inserts++
				}
			}
			if statements != tc.statements || txns != tc.transactions || inserts != tc.statements {
				t.Errorf("AddInboxBatch of %d rows: %d statements (%d INSERTs), %d transactions; want %d, %d, %d: %s",
					tc.rows, statements, inserts, txns, tc.statements, tc.statements, tc.transactions, strings.Join(log, "; "))
			}
			got, err := s.GetInbox(ctx, ids[len(ids)-1])
			if err != nil || got.OutTradeNo != fmt.Sprintf("BATCH%05d", 1000+tc.rows-1) {
				t.Fatalf("the last ID of the batch: %+v, %v", got, err)
			}
		}
		evs := make([]*store.Event, 20)
		for i := range evs {
			evs[i] = &store.Event{OutTradeNo: "BATCH00001", At: time.Now(), Kind: store.EventAlert, Source: "notify"}
		}
		n.take()
		if err := s.AddEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if statements, txns, _, log := n.take(); statements != 1 || txns != 0 {
			t.Errorf("AddEvents of 20: %d statements, %d transactions; want 1, 0: %s", statements, txns, strings.Join(log, "; "))
		}
	})
}

// TestInboxBatchIDsTiDB: on TiDB the rows of one multi-row INSERT need not
// get consecutive IDs (the simulation gives them gaps), so AddInboxBatch
// may not derive them from LAST_INSERT_ID(): every returned ID is its own
// item's, ascending, whatever the batch's size. Under the counting driver,
// a batch of 20 is one transaction of 20 single-row INSERTs of one
// prepared statement. (With the IDs derived as on MySQL, the second
// item's ID named the first item's spent gap: not found.)
func TestInboxBatchIDsTiDB(t *testing.T) {
	db, tg := openSim(t, &sqlsim.Driver{Engine: sqlsim.TiDB, AutoIDGaps: true})
	s := newStore(t, tg, db)
	ctx := context.Background()
	items := func(k, from int) []*store.InboxItem { return batchItems("TIDB", k, from) }
	for _, k := range []int{2, 20, 150} {
		its := items(k, 1000*k)
		ids, err := s.AddInboxBatch(ctx, its)
		if err != nil || len(ids) != k {
			t.Fatalf("AddInboxBatch of %d: %d IDs, %v", k, len(ids), err)
		}
		for i, id := range ids {
			if i > 0 && id <= ids[i-1] {
				t.Fatalf("AddInboxBatch of %d: IDs %v not ascending", k, ids)
			}
			got, err := s.GetInbox(ctx, id)
			if err != nil || got.OutTradeNo != its[i].OutTradeNo {
				t.Fatalf("AddInboxBatch of %d: item %d (%s) under ID %d, which holds %+v, %v", k, i, its[i].OutTradeNo, id, got, err)
			}
		}
	}

	n := &trips{}
	name := fmt.Sprintf("counting-tidb-sim-%p", n)
	sql.Register(name, countingDriver{base: &sqlsim.Driver{Engine: sqlsim.TiDB, Base: &mysql.MySQLDriver{}, AutoIDGaps: true}, n: n})
	cdb, err := sql.Open(name, serverDSN("mysql", "CYPAY_TEST_MYSQL", defaultMySQL)(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cdb.Close() })
	cdb.SetMaxOpenConns(1)
	prefix := newPrefix(t, tg, db)
	cs, err := sqlstore.New(cdb, sqlstore.Config{Dialect: sqlstore.MySQL, TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AddInboxBatch(ctx, items(2, 0)); err != nil { // warm: the server's version
		t.Fatal(err)
	}
	n.take()
	if _, err := cs.AddInboxBatch(ctx, items(20, 100)); err != nil {
		t.Fatal(err)
	}
	statements, txns, rt, log := n.take()
	inserts := 0
	for _, q := range log {
		if strings.HasPrefix(q, "INSERT INTO") {
			inserts++
		}
	}
	if statements != 20 || inserts != 20 || txns != 1 || rt != 23 {
		t.Errorf("AddInboxBatch of 20 on TiDB: %d statements (%d INSERTs), %d transactions, %d round trips; want 20, 20, 1, 23: %s",
			statements, inserts, txns, rt, strings.Join(log, "; "))
	}
}
