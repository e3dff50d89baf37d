package e2e_test

import (
	"testing"

	"github.com/cypaykit/kit/internal/skipnote"
)

// TestMain prints one line per service whose tests skipped (skipnote).
func TestMain(m *testing.M) { skipnote.Main(m, "e2e") }
