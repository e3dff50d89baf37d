package handler_test

import (
	"testing"
	"time"

	"github.com/cypaykit/kit/handler/handlertest"
	"github.com/cypaykit/kit/store"
	"github.com/cypaykit/kit/store/memstore"
)

// TestDuplicateStorm proves G2 and G3 on memstore: 200 concurrent copies of
// one notification across two handler instances settle once, fulfil once,
// and are all answered success. The sqlstore + Redis variant runs the same
// handlertest.RunDuplicateStorm from the nested modules.
func TestDuplicateStorm(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	handlertest.RunDuplicateStorm(t, st, st)
}

// TestSplitStorm: 20 orders × 30 concurrent copies over two instances on
// memstore (hook 30 ms): every order is fulfilled exactly once and, with
// duplicates of a PAID order not queueing for its lease, every copy is
// answered success.
func TestSplitStorm(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	res := handlertest.Storm{
		Stores: []store.OrderStore{st, st}, Orders: 20, Copies: 30, Hook: 30 * time.Millisecond,
	}.Run(t)
	if res.Success != res.Replies {
		t.Errorf("%d of %d replies were not success", res.Replies-res.Success, res.Replies)
	}
}
