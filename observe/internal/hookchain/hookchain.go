// Package hookchain joins a hook a host already set with one an adapter
// adds, so that instrumenting a config (observe/kitprom, observe/kitotel)
// never drops the host's own hook: the host's runs first.
package hookchain

import (
	"context"

	"github.com/cypaykit/kit/handler"
)

// Then returns a hook that calls prev, then next; prev nil means next alone.
func Then[E any](prev, next func(E)) func(E) {
	if prev == nil {
		return next
	}
	return func(e E) { prev(e); next(e) }
}

// ThenCtx is Then for hooks that take a context.
func ThenCtx[E any](prev, next func(context.Context, E)) func(context.Context, E) {
	if prev == nil {
		return next
	}
	return func(ctx context.Context, e E) { prev(ctx, e); next(ctx, e) }
}

// Trace runs outer's stage around inner's: outer starts first and ends
// last, and inner sees outer's context. outer nil means inner alone.
func Trace(outer, inner handler.Trace) handler.Trace {
	if outer == nil {
		return inner
	}
	return func(ctx context.Context, st handler.Stage) (context.Context, func(error)) {
		ctx, endOuter := outer(ctx, st)
		ctx, endInner := inner(ctx, st)
		return ctx, func(err error) { endInner(err); endOuter(err) }
	}
}
