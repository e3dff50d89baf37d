package hookchain

import (
	"context"
	"slices"
	"testing"

	"github.com/cypaykit/kit/handler"
)

func TestThenCallsPrevFirst(t *testing.T) {
	var got []string
	h := Then(func(e string) { got = append(got, "prev "+e) }, func(e string) { got = append(got, "next "+e) })
	h("x")
	if want := []string{"prev x", "next x"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got = nil
	Then(nil, func(e string) { got = append(got, e) })("y")
	if want := []string{"y"}; !slices.Equal(got, want) {
		t.Errorf("nil prev: got %v, want %v", got, want)
	}
}

func TestThenCtxCallsPrevFirst(t *testing.T) {
	var got []string
	h := ThenCtx(func(_ context.Context, e int) { got = append(got, "prev") }, func(_ context.Context, e int) { got = append(got, "next") })
	h(context.Background(), 1)
	if want := []string{"prev", "next"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

type key struct{}

func TestTraceNestsInnerInOuter(t *testing.T) {
	var got []string
	outer := func(ctx context.Context, st handler.Stage) (context.Context, func(error)) {
		got = append(got, "outer start")
		return context.WithValue(ctx, key{}, "outer"), func(error) { got = append(got, "outer end") }
	}
	inner := func(ctx context.Context, st handler.Stage) (context.Context, func(error)) {
		got = append(got, "inner start sees "+ctx.Value(key{}).(string))
		return ctx, func(error) { got = append(got, "inner end") }
	}
	_, end := Trace(outer, inner)(context.Background(), handler.StageNotify)
	end(nil)
	want := []string{"outer start", "inner start sees outer", "inner end", "outer end"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if Trace(nil, inner) == nil {
		t.Error("Trace(nil, inner) is nil, want inner")
	}
}
