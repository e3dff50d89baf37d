package middleware_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/internal/recut"
	"github.com/cypaykit/kit/middleware"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// decided is what the host's handler decides on: the fields a re-cut
// must not be able to change.
type decided struct {
	State                        model.State
	ResultCode, PayResult, MchID string
	OutTradeNo, TransactionID    string
	OutTransactionID, TimeEnd    string
	TotalFee                     int64
}

func decidedOf(n *model.Notification) decided {
	return decided{n.State, n.ResultCode, n.PayResult, n.MchID, n.OutTradeNo, n.TransactionID,
		n.OutTransactionID, n.TimeEnd, n.TotalFee}
}

// passThrough serves body through VerifyNotification and returns the
// status and what next saw, nil when next was not reached.
func passThrough(t testing.TB, body string) (int, *decided) {
	t.Helper()
	var seen *decided
	mw := newVerify(t, middleware.VerifyConfig{Keys: staticKeys(testKey), Logger: quietLog()})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, ok := middleware.NotificationFromContext(r.Context())
		if !ok {
			t.Fatal("next reached without a notification")
		}
		d := decidedOf(n)
		seen = &d
		_, _ = w.Write([]byte("success"))
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, notifyRequest(body))
	return w.Code, seen
}

func quietLog() *slog.Logger { l, _ := logBuffer(); return l }

// TestVerifyNotificationRecutProperty proves guarantee G10 for the
// middleware: every re-cut of a genuine notification that keeps its sign
// is refused before next, or reaches next with the same decided fields.
func TestVerifyNotificationRecutProperty(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(v url.Values)
	}{
		{"paid", nil},
		{"failed payment", func(v url.Values) { v.Set("pay_result", "1") }},
		{"bank_type with runs", func(v url.Values) { v.Set("bank_type", "CFT&bank_typf=1") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := notifyValues()
			if tc.edit != nil {
				tc.edit(v)
			}
			body := signed(t, v, testKey, sign.MD5)
			status, want := passThrough(t, body)
			if status != http.StatusOK || want == nil {
				t.Fatalf("genuine notification: got status %d, next reached %v", status, want != nil)
			}
			msg := map[string]string{}
			for k, vs := range mustParse(t, body) {
				msg[k] = vs[0]
			}
			var names []string
			for _, f := range model.NotifyFields() {
				names = append(names, f.Name)
			}
			kept, refused := 0, 0
			for _, c := range recut.All(msg, names) {
				cv := c.Values()
				if sign.Verify(cv, sign.MD5, testKey) != nil {
					continue
				}
				kept++
				status, got := passThrough(t, cv.Encode())
				if got == nil {
					refused++
					if status < 400 {
						t.Errorf("%s: next not reached, yet status %d", c.Name, status)
					}
					continue
				}
				if diff := cmp.Diff(*want, *got); diff != "" {
					t.Errorf("%s: next saw other decided fields (-genuine +re-cut):\n%s", c.Name, diff)
				}
			}
			if kept < 100 || refused == 0 {
				t.Fatalf("only %d cuts kept the sign (%d refused): the generator is broken", kept, refused)
			}
		})
	}
}

// TestVerifyNotificationRecutNamed: each re-cut of issue 8 keeps the
// genuine sign and is refused with 400 before next runs; each badly
// shaped value, signed, is refused the same way.
func TestVerifyNotificationRecutNamed(t *testing.T) {
	t.Parallel()
	fold := func(into, from, sendAs string) func(v url.Values) {
		return func(v url.Values) {
			v.Set(into, v.Get(into)+"&"+from+"="+v.Get(from))
			v.Set(from, sendAs)
		}
	}
	tests := []struct {
		name   string
		edit   func(v url.Values)
		resign bool
	}{
		{"pay_result folded into out_transaction_id, sent as a space", fold("out_transaction_id", "pay_result", " "), false},
		{"transaction_id folded into trade_type, sent blank", fold("trade_type", "transaction_id", ""), false},
		{"transaction_id folded into trade_type, sent as U+3000", fold("trade_type", "transaction_id", "\u3000"), false},
		{"mch_id folded into bank_type, sent blank", func(v url.Values) {
			// bank_type sorts right before mch_id in this message.
			fold("bank_type", "mch_id", " ")(v)
		}, false},
		{"total_fee +4", func(v url.Values) { v.Set("total_fee", "+4") }, true},
		{"total_fee 04", func(v url.Values) { v.Set("total_fee", "04") }, true},
		{"pay_result 00", func(v url.Values) { v.Set("pay_result", "00") }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := mustParse(t, signed(t, notifyValues(), testKey, sign.MD5))
			if tc.resign {
				v.Del(sign.Param)
				tc.edit(v)
				v = mustParse(t, signed(t, v, testKey, sign.MD5))
			} else {
				tc.edit(v)
				if err := sign.Verify(v, sign.MD5, testKey); err != nil {
					t.Fatalf("the re-cut does not keep the sign: %v", err)
				}
			}
			status, got := passThrough(t, v.Encode())
			if status != http.StatusBadRequest || got != nil {
				t.Errorf("got status %d, next saw %+v; want 400 and next not run", status, got)
			}
		})
	}
}
