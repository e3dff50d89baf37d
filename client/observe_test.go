package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/model"
)

// callRecorder collects CallEvents.
type callRecorder struct {
	mu     sync.Mutex
	events []client.CallEvent
}

func (r *callRecorder) Observe(e client.CallEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// opResults returns "op result" per event, dropping durations and errors.
func (r *callRecorder) opResults() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Op+" "+e.Result)
	}
	return out
}

// TestObserveCalls proves every public call reports one CallEvent with
// its operation (the pre-order's channel folded away) and the class of
// its result, and that a transport sees the operation through CallOp.
func TestObserveCalls(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		ops []string
	)
	f := newFake(t, okReply(t))
	rec := &callRecorder{}
	c := newClient(t, model.V2, f.srv.URL, func(cfg *client.Config) {
		cfg.Observe = rec.Observe
		cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			ops = append(ops, client.CallOp(r.Context()))
			mu.Unlock()
			return http.DefaultTransport.RoundTrip(r)
		})}
	})
	ctx := context.Background()
	for _, ch := range []model.PayType{model.PayWeChat, model.PayAlipay} {
		if _, err := c.PreOrder(ctx, preOrderReq(ch)); err != nil {
			t.Fatalf("PreOrder %s: %v", ch, err)
		}
	}
	if _, err := c.OrderQuery(ctx, queryReq()); err != nil {
		t.Fatalf("OrderQuery: %v", err)
	}
	if _, err := c.Cancel(ctx, &model.CancelRequest{PayType: model.PayWeChat, MchID: mchID, OutTradeNo: "ORDER00001"}); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	f.setReply(failReply(t, "20007", "order not found"))
	if _, err := c.OrderQuery(ctx, queryReq()); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("OrderQuery of an unknown order: got %v, want ErrNotFound", err)
	}
	f.setReply(func(received) (int, string) { return http.StatusBadGateway, "" })
	if _, err := c.OrderQuery(ctx, queryReq()); !errors.Is(err, client.ErrUnknownOutcome) {
		t.Fatalf("OrderQuery on a 502: got %v, want ErrUnknownOutcome", err)
	}
	if _, err := c.OrderQuery(ctx, &model.OrderQueryRequest{MchID: "unknown", OutTradeNo: "X"}); err == nil {
		t.Fatal("OrderQuery of a merchant without a key: got nil error")
	}
	want := []string{
		"preorder ok", "preorder ok", "orderquery ok", "cancel ok",
		"orderquery not_found", "orderquery unknown_outcome", "orderquery bad_request",
	}
	if diff := cmp.Diff(want, rec.opResults()); diff != "" {
		t.Errorf("call events (-want +got):\n%s", diff)
	}
	wantOps := []string{"preorder", "preorder", "orderquery", "cancel", "orderquery", "orderquery"}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("CallOp seen by the transport (-want +got):\n%s", diff)
	}
	for _, e := range rec.events {
		if e.Duration <= 0 || (e.Result == client.ResultOK) != (e.Err == nil) {
			t.Errorf("%s %s: got Duration %v Err %v, want a duration and Err matching the result", e.Op, e.Result, e.Duration, e.Err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCallResult proves each error class maps to its own result, wrapped
// or not, and anything else to "error".
func TestCallResult(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		err  error
		want string
	}{
		{nil, client.ResultOK},
		{&client.GatewayError{Op: "orderquery", Code: model.CodeOrderNotFound}, client.ResultNotFound},
		{&client.GatewayError{Op: "PreOrder_WECHAT", TradeState: model.TradeNeedQuery}, client.ResultNeedQuery},
		{&client.GatewayError{Op: "orderquery", HTTPStatus: 503}, client.ResultUnknownOutcome},
		{&client.GatewayError{Op: "orderquery", HTTPStatus: 404}, client.ResultGateway},
		{&client.GatewayError{Op: "cancel", Code: model.CodeMerchantError}, client.ResultMerchantConfig},
		{fmt.Errorf("client: orderquery: %w", client.ErrResponseSign), client.ResultResponseSign},
		{client.ErrUnsigned, client.ResultUnsigned},
		{fmt.Errorf("x: %w", client.ErrMismatch), client.ResultMismatch},
		{fmt.Errorf("x: %w", client.ErrUnknownMerchant), client.ResultUnknownMerchant},
		{fmt.Errorf("%w: orderquery: %w", client.ErrBadRequest, errors.New("bad")), client.ResultBadRequest},
		{fmt.Errorf("client: orderquery: %w", ctx.Err()), client.ResultCanceled},
		{errors.New("something else"), client.ResultError},
	}
	for _, tc := range tests {
		if got := client.CallResult(tc.err); got != tc.want {
			t.Errorf("CallResult(%v): got %q, want %q", tc.err, got, tc.want)
		}
	}
}
