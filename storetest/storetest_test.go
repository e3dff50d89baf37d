package storetest_test

import (
	"testing"

	"github.com/cypaykit/kit/store/memstore"
	"github.com/cypaykit/kit/storetest"
)

func TestMemstore(t *testing.T) {
	t.Parallel()
	storetest.RunConformanceTests(t, func(t *testing.T) storetest.Harness {
		s := memstore.New()
		return storetest.Harness{Store: s, Locker: s, Refunds: s}
	})
}
