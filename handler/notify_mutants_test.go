package handler_test

// Tests for the Notify mutants that the third mutation run (issue 16 §3,
// notify.go from NewNotify's defaults on) found alive. Each names the
// mutant it kills, as gremlins prints it (file:line:col on the tree of
// that run).

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/cypaykit/kit/gatewaytest"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// TestNotifyAllowOnlyOnWrongMethod: a GET is answered 405 with Allow:
// POST; a POST that fails (here a sign under a wrong key) says fail with
// its own status and no Allow header, which would tell the sender to
// change a method that was right. Mutant killed: notify.go:196:17 (Allow
// set on every failure but the 405).
func TestNotifyAllowOnlyOnWrongMethod(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	r := newSettleRig(t, mem, handler.SettlerConfig{})
	o := pendingOrder(t, mem, "ALLOW0001", "ALLOW0", 1)

	rec := httptestRecorder(r.notify, http.MethodGet, "/notify", "", "")
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost || rec.Body.String() != "fail" {
		t.Errorf("GET: got %d Allow=%q %q, want 405 Allow=POST fail", rec.Code, rec.Header().Get("Allow"), rec.Body.String())
	}
	forged := signedNotification(t, o, "not-the-merchant-key-0123456789ab", nil).Encode()
	rec = httptestRecorder(r.notify, http.MethodPost, "/notify", formType, forged)
	if rec.Code != http.StatusUnauthorized || rec.Body.String() != "fail" {
		t.Errorf("forged POST: got %d %q, want 401 fail", rec.Code, rec.Body.String())
	}
	if a, ok := rec.Header()["Allow"]; ok {
		t.Errorf("forged POST: Allow %q set, want none", a)
	}
}

// TestNotifyJunkRefusedBeforeVerify: a notification whose out_trade_no is
// junk (a NUL byte in it) is refused 400 before any sign is computed,
// so a flood of junk costs no verification and no key lookup; a
// well-formed one is verified. Mutant killed: notify.go:215:44 (junk let
// through to the verifier, which refuses it too, but after a verify
// stage).
func TestNotifyJunkRefusedBeforeVerify(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	spans := &spanRecorder{}
	r := newSettleRig(t, mem, handler.SettlerConfig{Trace: spans.Trace})
	o := pendingOrder(t, mem, "JUNKV0001", "JUNKV0", 1)

	junk := signedNotification(t, o, keyFor(o), func(p *gatewaytest.Payment) { p.OutTradeNo = "JUNK\x00V0001" }).Encode()
	rec := httptestRecorder(r.notify, http.MethodPost, "/notify", formType, junk)
	if rec.Code != http.StatusBadRequest || rec.Body.String() != "fail" {
		t.Errorf("junk out_trade_no: got %d %q, want 400 fail", rec.Code, rec.Body.String())
	}
	for _, s := range spans.Spans() {
		if s.Stage == handler.StageVerify {
			t.Errorf("junk out_trade_no: stages %+v, want no verify stage", spans.Spans())
		}
	}
	if got := r.deliver(t, o, "T-JUNKV"); got != "success" {
		t.Fatalf("well-formed payment: got %q, want success", got)
	}
	verified := false
	for _, s := range spans.Spans() {
		verified = verified || s.Stage == handler.StageVerify
	}
	if !verified {
		t.Errorf("well-formed payment: stages %+v, want a verify stage", spans.Spans())
	}
}

// TestNotifyLogsUnrecordedFactsOnce: a payment whose money facts cannot
// be recorded (a coupon_fee above the amount) is settled all the same,
// and the settling notification says why in one warning; a copy for the
// attempt now PAID records nothing and says nothing more. Mutant killed:
// notify.go:445:18 (the warning written for every copy but the one that
// settles).
func TestNotifyLogsUnrecordedFactsOnce(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	logs := &syncWriter{w: new(bytes.Buffer)}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := handler.NewSettler(handler.SettlerConfig{Store: mem, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: handlertest.Keyring(), Logger: logger, DuplicateMemo: -1})
	if err != nil {
		t.Fatal(err)
	}
	o := pendingOrder(t, mem, "UNREC0001", "UNREC0", 1)
	body := signedNotification(t, o, keyFor(o), func(p *gatewaytest.Payment) {
		p.Extra = map[string]string{"coupon_fee": strconv.FormatInt(o.Amount+1, 10)}
	}).Encode()

	const warning = "payment settled without its money facts"
	for i, want := range []int{1, 1} {
		if rec := httptestRecorder(n, http.MethodPost, "/notify", formType, body); rec.Body.String() != "success" {
			t.Fatalf("delivery %d: got %d %q, want success", i+1, rec.Code, rec.Body.String())
		}
		if got := strings.Count(logs.String(), warning); got != want {
			t.Errorf("after delivery %d: %d warnings %q, want %d; logs:\n%s", i+1, got, warning, want, logs.String())
		}
	}
	if got := mustGet(t, mem, o.OutTradeNo); got.Status != store.Paid || got.Money.Recorded {
		t.Errorf("attempt: got %s, money recorded %v; want PAID without money facts", got.Status, got.Money.Recorded)
	}
}
