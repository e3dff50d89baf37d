package handler_test

import (
	"testing"

	"github.com/cypaykit/kit/handler/handlertest"
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
