package handler_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/internal/recut"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// recutNow is the fixed clock of the re-cut tests, so that two runs that
// decide alike leave byte-identical orders.
var recutNow = time.Date(2026, 5, 1, 12, 0, 0, 0, model.Beijing)

// liteKit is a Notify on a fresh memstore holding one PENDING order, with
// no simulator: cheap enough to build once per re-cut.
type liteKit struct {
	mem    *memstore.Store
	notify *handler.Notify
	order  *store.Order

	mu     sync.Mutex
	alerts []handler.Alert
	hooks  int
}

func newLiteKit(t testing.TB, otn, mchID string, v model.Version, amount int64, wrap ...func(*memstore.Store) store.OrderStore) *liteKit {
	t.Helper()
	k := &liteKit{mem: memstore.New()}
	var st store.OrderStore = k.mem
	for _, w := range wrap {
		st = w(k.mem)
	}
	s, err := handler.NewSettler(handler.SettlerConfig{
		Store: st, Locker: k.mem, Logger: quietLogger(), Now: func() time.Time { return recutNow },
		Alert: func(_ context.Context, a handler.Alert) {
			k.mu.Lock()
			k.alerts = append(k.alerts, a)
			k.mu.Unlock()
		},
		Fulfill: func(context.Context, store.Order) error {
			k.mu.Lock()
			k.hooks++
			k.mu.Unlock()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A kit takes one notification, so its duplicate memo is kept to a
	// few attempts: the default preallocates 4096, and the thousands of
	// kits the property builds spent most of their time on that memory.
	k.notify, err = handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: handlertest.Keyring(), Logger: quietLogger(), Deadline: time.Minute,
		DuplicateMemo: 4})
	if err != nil {
		t.Fatal(err)
	}
	o := &store.Order{
		OutTradeNo: otn, BusinessID: "B" + otn, Attempt: 1, MchID: mchID,
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, Version: v,
		Amount: amount, Status: store.Pending, CreatedAt: recutNow, UpdatedAt: recutNow,
	}
	if err := k.mem.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	k.order = o
	k.order = k.get(t)
	return k
}

func (k *liteKit) get(t testing.TB) *store.Order {
	t.Helper()
	o, err := k.mem.Get(context.Background(), k.order.OutTradeNo)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// outcome is everything a notification can change or say.
type outcome struct {
	Status int
	Reply  string
	Order  *store.Order
	Alerts []handler.Alert
	Hooks  int
}

func (k *liteKit) post(t testing.TB, body string) outcome {
	t.Helper()
	w := httptestRecorder(k.notify, http.MethodPost, "/notify", formType, body)
	k.mu.Lock()
	defer k.mu.Unlock()
	return outcome{Status: w.Code, Reply: w.Body.String(), Order: k.get(t),
		Alerts: append([]handler.Alert(nil), k.alerts...), Hooks: k.hooks}
}

// encode writes values the way a form does, in sorted order.
func encode(v url.Values) string { return v.Encode() }

const genuineTransactionID = "4200001234202605011234567890"

// genuine builds a notification the gateway would send for o, signed
// with key, with edit applied before signing.
func genuine(t testing.TB, o *store.Order, ch model.PayType, key string, failed bool, edit func(v url.Values)) url.Values {
	t.Helper()
	v, err := gatewaytest.NotificationValues(gatewaytest.Payment{
		Channel: ch, MchID: o.MchID, OutTradeNo: o.OutTradeNo, TotalFee: o.Amount, Failed: failed,
		TransactionID: genuineTransactionID, OutTransactionID: "CH20260501000001",
		NonceStr: "n0nce", TimeEnd: recutNow.Add(-time.Minute), CreatedAt: recutNow.Add(-2 * time.Minute),
	}, key, "")
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		v.Del("sign")
		edit(v)
		s, err := sign.Sign(v, key, sign.MD5)
		if err != nil {
			t.Fatal(err)
		}
		v.Set("sign", s)
	}
	return v
}

func single(v url.Values) map[string]string {
	m := make(map[string]string, len(v))
	for k, vs := range v {
		m[k] = vs[0]
	}
	return m
}

// notifyDecided are the names the re-cut generator adds blank.
func decidedNames(fields []model.Field) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.Name)
	}
	return out
}

// recutCase is one genuine message the property is checked on.
type recutCase struct {
	name    string
	version model.Version
	mchID   string
	channel model.PayType
	failed  bool
	edit    func(v url.Values)
}

var recutCases = []recutCase{
	{"v2 wechat paid", model.V2, mchA, model.PayWeChat, false, nil},
	{"v1 wechat failed payment", model.V1, mchA, model.PayWeChat, true, nil},
	{"v2 alipay paid", model.V2, mchB, model.PayAlipay, false, nil},
	// A value holding runs that are not decided fields: splitting them
	// out must change nothing the kit decides.
	// (bank_type, once such a field, is a stored payment fact now, held
	// to a token's shape: model.CheckFacts.)
	{"v1 paid, promotion_detail with runs", model.V1, mchA, model.PayWeChat, false, func(v url.Values) {
		v.Set("promotion_detail", "[]&promotion_detaim=1&promotion_detain=2")
	}},
	{"v2 paid, no out_transaction_id", model.V2, mchA, model.PayWeChat, false, func(v url.Values) {
		v.Del("out_transaction_id")
	}},
}

// TestRecutProperty proves guarantee G10 for Notify: for each genuine
// notification, every re-cut the generator makes that keeps the sign is
// either refused (fail, the order untouched, no alert, no hook) or
// decided exactly as the genuine one (same reply, same stored order, same
// alerts and hook calls).
func TestRecutProperty(t *testing.T) {
	t.Parallel()
	for _, tc := range recutCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkRecuts(t, tc, nil)
		})
	}
}

// checkRecuts runs the property for tc over every generated cut, or over
// only the cut keep selects (the fuzz target's way in).
func checkRecuts(t *testing.T, tc recutCase, keep func(i, n int) bool) {
	const otn = "RECUT000001"
	key := keyA
	switch {
	case tc.version == model.V1:
		key = agentKey
	case tc.mchID == mchB:
		key = keyB
	}
	want := func() outcome {
		k := newLiteKit(t, otn, tc.mchID, tc.version, 1800)
		v := genuine(t, k.order, tc.channel, key, tc.failed, tc.edit)
		return k.post(t, encode(v))
	}()
	if want.Reply != "success" {
		t.Fatalf("genuine notification: got %d %q, want success", want.Status, want.Reply)
	}
	probe := newLiteKit(t, otn, tc.mchID, tc.version, 1800)
	msg := genuine(t, probe.order, tc.channel, key, tc.failed, tc.edit)
	// The payment facts are stored, so cuts aim at them too.
	cuts := recut.All(single(msg), decidedNames(append(model.NotifyFields(), model.FactFields()...)))
	kept, refused := 0, 0
	for i, c := range cuts {
		if keep != nil && !keep(i, len(cuts)) {
			continue
		}
		v := c.Values()
		if sign.Verify(v, sign.MD5, key) != nil {
			continue // not a re-cut: the sign changed
		}
		kept++
		k := newLiteKit(t, otn, tc.mchID, tc.version, 1800)
		initial := k.get(t)
		got := k.post(t, encode(v))
		if got.Reply == "fail" {
			refused++
			if diff := cmp.Diff(outcome{Status: got.Status, Reply: "fail", Order: initial}, got); diff != "" {
				t.Errorf("%s: refused but changed something (-want +got):\n%s", c.Name, diff)
			}
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: decided unlike the genuine notification (-genuine +re-cut):\n%s", c.Name, diff)
		}
	}
	if keep == nil {
		if kept < 100 || refused == 0 {
			t.Fatalf("only %d of %d cuts kept the sign (%d refused): the generator is broken", kept, len(cuts), refused)
		}
		t.Logf("%d cuts, %d keep the sign, %d refused", len(cuts), kept, refused)
	}
}

// FuzzRecut runs the re-cut property on one generated cut chosen by the
// fuzzer, of a genuine notification chosen by it too, with the fuzzer's
// own blank spelling added under a decided name: any value the canonical
// string leaves out (whatever Unicode space it is made of) must be
// refused or change nothing.
func FuzzRecut(f *testing.F) {
	for i := range 40 {
		f.Add(uint8(i%len(recutCases)), uint16(i*37), []string{"", " ", "\u3000", "\u2028", "\u0085", "\t\v"}[i%6])
	}
	f.Fuzz(func(t *testing.T, which uint8, pick uint16, blank string) {
		tc := recutCases[int(which)%len(recutCases)]
		checkRecuts(t, tc, func(i, n int) bool { return i == int(pick)%n })
		fields := model.NotifyFields()
		name := fields[int(pick)%len(fields)].Name
		if int(pick)%2 == 1 {
			name = strings.ToUpper(name)
		}
		checkAdded(t, tc, name, blank)
	})
}

// checkAdded is the re-cut property for one cut: the genuine notification
// of tc with the field name=value added, when that keeps the sign.
func checkAdded(t *testing.T, tc recutCase, name, value string) {
	const otn = "RECUT000002"
	key := keyA
	switch {
	case tc.version == model.V1:
		key = agentKey
	case tc.mchID == mchB:
		key = keyB
	}
	k := newLiteKit(t, otn, tc.mchID, tc.version, 1800)
	v := genuine(t, k.order, tc.channel, key, tc.failed, tc.edit)
	want := newLiteKit(t, otn, tc.mchID, tc.version, 1800).post(t, encode(v))
	if _, ok := v[name]; ok {
		v[name] = append(v[name], value)
	} else {
		v.Set(name, value)
	}
	if sign.Verify(v, sign.MD5, key) != nil {
		return // the sign changed: not a re-cut
	}
	got := k.post(t, encode(v))
	if got.Reply == "fail" {
		if diff := cmp.Diff(outcome{Status: got.Status, Reply: "fail", Order: k.order}, got); diff != "" {
			t.Errorf("%s=%q: refused but changed something (-want +got):\n%s", name, value, diff)
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s=%q: decided unlike the genuine notification (-genuine +re-cut):\n%s", name, value, diff)
	}
}

// TestRecutNamed replays each re-cut of issue 8 against Notify: each keeps
// the genuine sign, and each must be refused without changing the order or
// raising an alert; the genuine notification then still settles.
func TestRecutNamed(t *testing.T) {
	t.Parallel()
	fold := func(into, from, sendAs string, drop bool) func(v url.Values) {
		return func(v url.Values) {
			v.Set(into, v.Get(into)+"&"+from+"="+v.Get(from))
			if drop {
				v.Del(from)
			} else {
				v.Set(from, sendAs)
			}
		}
	}
	tests := []struct {
		name    string
		version model.Version
		recut   func(v url.Values)
		// resign signs the edited message again: the gateway itself (or a
		// key holder) signed a value of the wrong shape.
		resign bool
	}{
		{"pay_result folded into out_transaction_id, sent as a space", model.V1, fold("out_transaction_id", "pay_result", " ", false), false},
		{"pay_result folded into out_transaction_id, sent empty", model.V2, fold("out_transaction_id", "pay_result", "", false), false},
		{"pay_result folded into out_transaction_id, dropped", model.V2, fold("out_transaction_id", "pay_result", "", true), false},
		{"pay_result folded, sent as a tab", model.V2, fold("out_transaction_id", "pay_result", "\t", false), false},
		{"transaction_id folded into trade_type, sent blank", model.V2, fold("trade_type", "transaction_id", " ", false), false},
		{"transaction_id folded into trade_type, sent as U+3000", model.V2, fold("trade_type", "transaction_id", "\u3000", false), false},
		{"mch_id folded into fee_type, sent blank", model.V1, fold("fee_type", "mch_id", " ", false), false},
		{"mch_id folded into fee_type, dropped", model.V2, fold("fee_type", "mch_id", "", true), false},
		{"pay_result blank in upper case beside the fold", model.V2, func(v url.Values) {
			fold("out_transaction_id", "pay_result", "", true)(v)
			v.Set("PAY_RESULT", " ")
		}, false},
		{"total_fee +1800", model.V2, func(v url.Values) { v.Set("total_fee", "+1800") }, true},
		{"total_fee 01800", model.V2, func(v url.Values) { v.Set("total_fee", "01800") }, true},
		{"total_fee with a space", model.V2, func(v url.Values) { v.Set("total_fee", "1800 ") }, true},
		{"pay_result +0", model.V2, func(v url.Values) { v.Set("pay_result", "+0") }, true},
		{"pay_result 00", model.V2, func(v url.Values) { v.Set("pay_result", "00") }, true},
		{"transaction_id with an ideographic space", model.V2, func(v url.Values) { v.Set("transaction_id", "4200\u30001") }, true},
		{"time_end not yyyyMMddHHmmss", model.V2, func(v url.Values) { v.Set("time_end", "2026-05-01 11:59:00") }, true},
		{"time_end missing", model.V2, func(v url.Values) { v.Del("time_end") }, true},
		{"state spelt STATE", model.V2, func(v url.Values) { v.Set("STATE", v.Get("state")); v.Del("state") }, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			otn := "NAMED" + string(rune('A'+i)) + "0001"
			k := newLiteKit(t, otn, mchA, tc.version, 1800)
			key := keyA
			if tc.version == model.V1 {
				key = agentKey
			}
			v := genuine(t, k.order, model.PayWeChat, key, false, nil)
			genuineBody := encode(v)
			if tc.resign {
				v.Del("sign")
				tc.recut(v)
				s, err := sign.Sign(v, key, sign.MD5)
				if err != nil {
					t.Fatal(err)
				}
				v.Set("sign", s)
			} else {
				tc.recut(v)
				if err := sign.Verify(v, sign.MD5, key); err != nil {
					t.Fatalf("the re-cut does not keep the sign: %v", err)
				}
			}
			got := k.post(t, encode(v))
			if diff := cmp.Diff(outcome{Status: http.StatusBadRequest, Reply: "fail", Order: k.order}, got); diff != "" {
				t.Errorf("re-cut (-want +got):\n%s", diff)
			}
			if got := k.post(t, genuineBody); got.Reply != "success" || got.Order.Status != store.Paid ||
				got.Order.TransactionID != genuineTransactionID {
				t.Errorf("genuine after the re-cut: got %q, status %s, transaction %q; want success, PAID", got.Reply, got.Order.Status, got.Order.TransactionID)
			}
		})
	}
}
