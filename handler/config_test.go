package handler_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/handler"
	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

func TestConstructorsValidate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	resolve := e.Resolve
	tests := map[string]func() error{
		"settler without store": func() error { _, err := handler.NewSettler(handler.SettlerConfig{}); return err },
		"settler negative ttl": func() error {
			_, err := handler.NewSettler(handler.SettlerConfig{Store: e.Mem, LockTTL: -1})
			return err
		},
		"notify without settler": func() error {
			_, err := handler.NewNotify(handler.NotifyConfig{Keys: handlertest.Keyring()})
			return err
		},
		"notify without keys": func() error {
			_, err := handler.NewNotify(handler.NotifyConfig{Settler: e.Settler})
			return err
		},
		"notify unknown algorithm": func() error {
			_, err := handler.NewNotify(handler.NotifyConfig{Settler: e.Settler, Keys: handlertest.Keyring(), Algorithm: "CRC32"})
			return err
		},
		"preorder without resolver": func() error {
			_, err := handler.NewPreOrder(handler.PreOrderConfig{Store: e.Mem, Client: e.Clients[model.V2], Authorize: handler.AllowAnyone, NotifyURL: "https://a.example/n"})
			return err
		},
		"preorder without Authorize": func() error {
			_, err := handler.NewPreOrder(handler.PreOrderConfig{Store: e.Mem, Client: e.Clients[model.V2], Resolve: resolve, NotifyURL: "https://a.example/n"})
			return err
		},
		"preorder negative MaxOpen": func() error {
			_, err := handler.NewPreOrder(handler.PreOrderConfig{Store: e.Mem, Client: e.Clients[model.V2], Resolve: resolve, Authorize: handler.AllowAnyone, NotifyURL: "https://a.example/n", MaxOpen: -1})
			return err
		},
		"preorder negative OpenFor": func() error {
			_, err := handler.NewPreOrder(handler.PreOrderConfig{Store: e.Mem, Client: e.Clients[model.V2], Resolve: resolve, Authorize: handler.AllowAnyone, NotifyURL: "https://a.example/n", OpenFor: -time.Hour})
			return err
		},
		"preorder notify URL with query": func() error {
			_, err := handler.NewPreOrder(handler.PreOrderConfig{Store: e.Mem, Client: e.Clients[model.V2], Resolve: resolve, Authorize: handler.AllowAnyone, NotifyURL: "https://a.example/n?x=1"})
			return err
		},
		"preorder relative notify URL": func() error {
			_, err := handler.NewPreOrder(handler.PreOrderConfig{Store: e.Mem, Client: e.Clients[model.V2], Resolve: resolve, Authorize: handler.AllowAnyone, NotifyURL: "/notify"})
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

// onlyStore hides memstore's Locker, as a host's own store would have none.
type onlyStore struct{ store.OrderStore }

// TestLocalLocker: with no Locker configured, a store that is not one and
// SingleProcess declared, one instance still runs the hook once under a
// storm of duplicates.
func TestLocalLocker(t *testing.T) {
	t.Parallel()
	m := memstore.New()
	h := handlertest.NewHooks()
	s, err := handler.NewSettler(handler.SettlerConfig{Store: onlyStore{m}, SingleProcess: true, Fulfill: h.Fulfill, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	n, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: client.Keyring{MerchantKeys: client.StaticMerchantKeys(merchants)}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n)
	t.Cleanup(srv.Close)
	e := &env{Host: &handlertest.Host{Mem: m, Clock: handlertest.NewClock()}}
	o := e.CreatePending(t, "LOCAL01", mchA, model.V2, 50)
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
	if c := h.Calls("LOCAL01"); c != 1 || h.Overlaps() != 0 {
		t.Errorf("hook: got %d calls, %d overlaps; want 1, 0", c, h.Overlaps())
	}
	if got, _ := m.Get(context.Background(), "LOCAL01"); !got.Fulfilled {
		t.Error("not fulfilled")
	}
}

// TestSettlerRefusesUnsharedLocker: a Store that is no Locker, with no
// Locker given, would leave every instance its own process-local leases,
// so that two instances run the fulfilment hook at once. NewSettler
// refuses that wiring unless SingleProcess says there is one instance.
func TestSettlerRefusesUnsharedLocker(t *testing.T) {
	t.Parallel()
	m := memstore.New()
	tests := []struct {
		name string
		cfg  handler.SettlerConfig
		want error
	}{
		{"store without locker, no locker", handler.SettlerConfig{Store: onlyStore{m}}, handler.ErrUnsafeLocker},
		{"store without locker, single process", handler.SettlerConfig{Store: onlyStore{m}, SingleProcess: true}, nil},
		{"store without locker, shared locker", handler.SettlerConfig{Store: onlyStore{m}, Locker: m}, nil},
		{"store that is a locker", handler.SettlerConfig{Store: m}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := handler.NewSettler(tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("NewSettler: got %v, want %v", err, tc.want)
			}
			if (s == nil) != (tc.want != nil) {
				t.Fatalf("NewSettler: got settler %v with error %v", s, err)
			}
		})
	}
}

// TestNewNotifyRefusesEmptyAgentKey: a notify handler given an agent id
// with an empty agent key would answer fail to every v1 notification:
// NewNotify refuses it.
func TestNewNotifyRefusesEmptyAgentKey(t *testing.T) {
	t.Parallel()
	s, err := handler.NewSettler(handler.SettlerConfig{Store: memstore.New(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range []client.Keyring{
		{AgentID: agentID, MerchantKeys: client.StaticMerchantKeys(merchants)},
		{AgentID: agentID, AgentKey: agentKey + "\n"},
	} {
		if _, err := handler.NewNotify(handler.NotifyConfig{Settler: s, Keys: keys}); err == nil {
			t.Errorf("NewNotify(%+v): got no error, want one", keys.AgentID)
		}
	}
}
