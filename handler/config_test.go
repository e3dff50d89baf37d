package handler_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

func TestConstructorsValidate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	resolve := e.resolve
	tests := map[string]func() error{
		"settler without store": func() error { _, err := handler.NewSettler(handler.SettlerConfig{}); return err },
		"settler negative ttl": func() error {
			_, err := handler.NewSettler(handler.SettlerConfig{Store: e.mem, LockTTL: -1})
			return err
		},
		"notify without settler": func() error { _, err := handler.NewNotify(handler.NotifyConfig{Keys: keyring()}); return err },
		"notify without keys": func() error {
			_, err := handler.NewNotify(handler.NotifyConfig{Settler: e.settler})
			return err
		},
		"notify unknown algorithm": func() error {
			_, err := handler.NewNotify(handler.NotifyConfig{Settler: e.settler, Keys: keyring(), Algorithm: "CRC32"})
			return err
		},
		"preorder without resolver": func() error {
			_, err := handler.NewPreOrder(handler.PreOrderConfig{Store: e.mem, Client: e.clients[model.V2], NotifyURL: "https://a.example/n"})
			return err
		},
		"preorder notify URL with query": func() error {
			_, err := handler.NewPreOrder(handler.PreOrderConfig{Store: e.mem, Client: e.clients[model.V2], Resolve: resolve, NotifyURL: "https://a.example/n?x=1"})
			return err
		},
		"preorder relative notify URL": func() error {
			_, err := handler.NewPreOrder(handler.PreOrderConfig{Store: e.mem, Client: e.clients[model.V2], Resolve: resolve, NotifyURL: "/notify"})
			return err
		},
		"status without store": func() error { _, err := handler.NewStatus(handler.StatusConfig{}); return err },
	}
	for name, f := range tests {
		if err := f(); err == nil {
			t.Errorf("%s: got nil error", name)
		} else if strings.Contains(err.Error(), keyA) || strings.Contains(err.Error(), agentKey) {
			t.Errorf("%s: error carries a key: %v", name, err)
		}
	}
}

// onlyStore hides memstore's Locker so the Settler falls back to its own.
type onlyStore struct{ store.OrderStore }

// TestLocalLocker: with no Locker configured and a store that is not one,
// one instance still runs the hook once under a storm of duplicates.
func TestLocalLocker(t *testing.T) {
	t.Parallel()
	m := memstore.New()
	h := newHooks()
	s, err := handler.NewSettler(handler.SettlerConfig{Store: onlyStore{m}, Fulfill: h.Fulfill, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(merchants)}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n)
	t.Cleanup(srv.Close)
	e := &env{mem: m, clock: newClock()}
	o := e.createPending(t, "LOCAL01", mchA, model.V2, 50)
	body := signedNotification(t, o, keyA, nil).Encode()
	var wg sync.WaitGroup
	replies := make(chan string, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(srv.URL, formType, strings.NewReader(body))
			if err != nil {
				replies <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			replies <- string(b)
		}()
	}
	wg.Wait()
	close(replies)
	for r := range replies {
		if r != "success" {
			t.Errorf("reply: got %q, want success", r)
		}
	}
	if c := h.Calls("LOCAL01"); c != 1 || h.overlap.Load() != 0 {
		t.Errorf("hook: got %d calls, %d overlaps; want 1, 0", c, h.overlap.Load())
	}
	if got, _ := m.Get(context.Background(), "LOCAL01"); !got.Fulfilled {
		t.Error("not fulfilled")
	}
}
