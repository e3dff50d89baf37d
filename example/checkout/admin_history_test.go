package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cypaykit/kit/store"
)

// paidAfterClose makes an attempt that the shop closes and the buyer then
// pays: its notification verifies, is kept, and is answered fail (an
// alert, a person must refund it).
func (s *adminShop) paidAfterClose(t *testing.T) string {
	t.Helper()
	_, otn := s.openOrder(t)
	if err := s.app.store.Finish(context.Background(), otn, store.Closed, "closed by the test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if code := s.do(t, "POST", "/sim/pay/"+otn, nil, nil); code != http.StatusOK {
		t.Fatalf("POST /sim/pay: got %d", code)
	}
	return otn
}

// waitInbox reads path until it lists an item of otn, or fails t after 15 s.
func (s *adminShop) waitInbox(t *testing.T, path, otn string) []inboxItem {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; {
		var items []inboxItem
		if code := s.adminGet(t, path, &items); code != http.StatusOK {
			t.Fatalf("GET %s: got %d", path, code)
		}
		for _, it := range items {
			if it.OutTradeNo == otn {
				return items
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: no item of %s within 15 s: %+v", path, otn, items)
		}
		sleepBriefly()
	}
}

// TestAdminInbox: the back office lists the verified notifications, the
// failed ones alone on request, and shows one with its body.
func TestAdminInbox(t *testing.T) {
	s := startAdminShop(t)
	paid := s.paidOrder(t)
	failed := s.paidAfterClose(t)
	all := s.waitInbox(t, "/admin/inbox", failed)
	var ok, bad *inboxItem
	for i := range all {
		switch all[i].OutTradeNo {
		case paid:
			ok = &all[i]
		case failed:
			bad = &all[i]
		}
		if all[i].Body != nil {
			t.Errorf("the list carries bodies: %+v", all[i])
		}
	}
	if ok == nil || ok.Reply != "success" || ok.Outcome != "settled" || ok.Amount != 1800 {
		t.Fatalf("paid notification: got %+v, want settled, success, 1800", ok)
	}
	if bad == nil || bad.Reply != "fail" || bad.Outcome != "mismatch" || bad.Amount != 4500 {
		t.Fatalf("notification of a closed attempt: got %+v, want mismatch, fail, 4500", bad)
	}
	if len(all) != 2 || all[0].ID != bad.ID {
		t.Errorf("inbox: got %d items, newest %d; want 2, newest the failed one %d", len(all), all[0].ID, bad.ID)
	}
	var only []inboxItem
	if code := s.adminGet(t, "/admin/inbox?failed=1", &only); code != http.StatusOK || len(only) != 1 || only[0].ID != bad.ID {
		t.Errorf("failed only: got %d %+v, want the one failed item", code, only)
	}
	var it inboxItem
	if code := s.adminGet(t, "/admin/inbox/"+strconv.FormatInt(ok.ID, 10), &it); code != http.StatusOK ||
		it.Body == nil || !strings.Contains(*it.Body, paid) || !strings.Contains(*it.Body, "sign=") {
		t.Errorf("GET /admin/inbox/%d: got %d %+v, want the body as it arrived", ok.ID, code, it)
	}
	for path, want := range map[string]int{"/admin/inbox/0": 400, "/admin/inbox/x": 400, "/admin/inbox/999999": 404, "/admin/inbox?before=x": 400} {
		if code := s.adminGet(t, path, &it); code != want {
			t.Errorf("GET %s: got %d, want %d", path, code, want)
		}
	}
}

// TestAdminEvents: an attempt's history answers why it is PAID.
func TestAdminEvents(t *testing.T) {
	s := startAdminShop(t)
	paid := s.paidOrder(t)
	var evs []attemptEvent
	if code := s.adminGet(t, "/admin/attempts/"+paid+"/events", &evs); code != http.StatusOK {
		t.Fatalf("GET events: got %d", code)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	got := strings.Join(kinds, ",")
	for _, want := range []string{"created", "preordered", "notified"} {
		if !strings.Contains(got, want) {
			t.Errorf("events of a paid attempt: got %s, want %s among them", got, want)
		}
	}
	for _, e := range evs {
		if e.Kind == "notified" && (e.Outcome != "settled" || e.Amount != 1800 || e.InboxID == 0) {
			t.Errorf("notified event: got %+v, want settled 1800 with its inbox item", e)
		}
	}
	if code := s.adminGet(t, "/admin/attempts/NOSUCH0001/events", &evs); code != http.StatusNotFound {
		t.Errorf("events of an unknown attempt: got %d, want 404", code)
	}
}
