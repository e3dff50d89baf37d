package storetest_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/cypaykit/kit/storetest"
)

// The suite has to be seen failing without failing this package's tests,
// and a failing *testing.T cannot be contained in-process. So
// TestSuiteCatchesFlaws re-runs this test binary with brokenEnv naming a
// flaw; in that child, TestBrokenHelper runs the whole suite against the
// flawed toy. The parent asserts the child failed, and failed in the
// subtests that test for that flaw.
const brokenEnv = "STORETEST_BROKEN_FLAW"

func TestBrokenHelper(t *testing.T) {
	f := flaw(os.Getenv(brokenEnv))
	if f == "" {
		t.Skip("subprocess entry point of TestSuiteCatchesFlaws")
	}
	storetest.RunConformanceTests(t, func(t *testing.T) storetest.Harness {
		s := newToy(f)
		return storetest.Harness{Store: s, Locker: s, Refunds: s, Peer: s.peer}
	})
}

// The package's top-level tests run in parallel: each has stores of its
// own (a fresh toy or memstore per subtest, a child process per flaw), and
// they spend their time waiting out leases and bounds, not on the CPU.
func TestToyIsCorrect(t *testing.T) {
	t.Parallel()
	storetest.RunConformanceTests(t, func(t *testing.T) storetest.Harness {
		s := newToy("")
		return storetest.Harness{Store: s, Locker: s, Refunds: s, Peer: s.peer}
	})
}

func TestSuiteCatchesFlaws(t *testing.T) {
	if testing.Short() {
		t.Skip("re-runs the test binary once per flaw")
	}
	t.Parallel()
	tests := []struct {
		flaw flaw
		// mustFail lists subtests that must fail on this flaw.
		mustFail []string
	}{
		{racySettle, []string{"SettleConcurrent", "SettleConcurrentDistinct"}},
		{lastWriterWins, []string{"SettleOtherTransaction", "SettleConcurrentDistinct"}},
		{aliasing, []string{"ReturnsCopies", "ScheduleReturnsCopies"}},
		{lostUpdate, []string{"SetCheckout", "MarkFulfilled"}},
		{ignoresContext, []string{"ContextCanceled", "LockContextCanceled", "RefundContextCanceled", "LockTryAcquireCanceled", "LockExtendCanceled", "ScheduleContextCanceled", "HistoryContextCanceled"}},
		{noExclusion, []string{"LockMutualExclusion", "LockReleaseWakesWaiter", "LockAcquireDeadline"}},
		{releaseIgnoresToken, []string{"LockReleaseNotHeld", "LockStaleToken", "LockExpiry"}},
		{noExpiry, []string{"LockExpiry", "LockTryAcquireExpired"}},
		{tryIgnoresHolder, []string{"LockTryAcquire"}},
		{extendRefuses, []string{"LockExtend", "LockExtendOutlivesTTL"}},
		{extendIgnoresToken, []string{"LockExtendNotHeld"}},
		{extendNoop, []string{"LockExtendOutlivesTTL"}},
		{racyReserve, []string{"RefundConcurrentTotals"}},
		{noIdempotency, []string{"RefundIdempotency", "RefundConcurrentSameKey"}},
		{unfenced, []string{"RefundFencedWrites", "ScheduleFenced"}},
		{failKeepsReserve, []string{"RefundFailReleases"}},
		{doubleClaim, []string{"RefundClaimDue", "RefundClaimConcurrent"}},
		{staysPaid, []string{"RefundFullyRefunded"}},
		{finalNotSticky, []string{"RefundStateMachine", "RefundFailChangeFinal"}},
		{onlySuccessFinal, []string{"RefundFailChangeFinal"}},
		{anyStatus, []string{"RefundReserveNotPaid"}},
		{claimLeavesDue, []string{"ScheduleDueOrder", "ScheduleExclusive", "ScheduleExpiry"}},
		{racyClaim, []string{"ScheduleExclusive"}},
		{claimNeverExpires, []string{"ScheduleExpiry", "ScheduleFenced"}},
		{claimByKey, []string{"ScheduleDueOrder", "ScheduleNoStarvation"}},
		{dropsBuyer, []string{"RoundTripAllFields", "Buyer"}},
		{pruneUnbounded, []string{"InboxPrune", "EventsPrune"}},
		{listIgnoresFilters, []string{"InboxList"}},
		{batchMisnumbered, []string{"InboxBatch", "InboxBatchLarge"}},
		{batchCutShort, []string{"InboxBatchLarge"}},
		{eventsBatchReversed, []string{"EventsBatch"}},
		{copiesLost, []string{"InboxCopies"}},
		{eventsWithoutInbox, []string{"EventsList"}},
		{bodyAliased, []string{"InboxRoundTrip", "InboxBatch"}},
		{dropsMoney, []string{"Settle", "MoneyFacts"}},
		{repeatRewritesMoney, []string{"SettleRepeat", "MoneyFacts"}},
		{processLocal, []string{"LockPeerSeesHeld", "LockPeerMutualExclusion"}},
		{leaseWithoutSettle, []string{"SettleAndTryAcquireNotSettled"}},
		{settleTakesHeld, []string{"SettleAndTryAcquireHeld"}},
		{releaseAnyToken, []string{"MarkFulfilledAndReleaseStale"}},
		{releaseOnConflict, []string{"MarkFulfilledAndReleaseConflict"}},
	}
	// Every child starts at once: most of them spend their time waiting
	// out a bound the flaw never meets (a lease that never expires), so
	// the package's -parallel of GOMAXPROCS would queue idle waits.
	type run struct {
		out string
		err error
	}
	runs := make([]chan run, len(tests))
	for i, tc := range tests {
		runs[i] = make(chan run, 1)
		go func() {
			out, err := childRun(tc.flaw, tc.mustFail...)
			runs[i] <- run{out, err}
		}()
	}
	for i, tc := range tests {
		t.Run(string(tc.flaw), func(t *testing.T) {
			r := <-runs[i]
			out, err := r.out, r.err
			if _, ok := err.(*exec.ExitError); err != nil && !ok {
				t.Fatalf("running the test binary: %v", err)
			}
			if err == nil {
				t.Fatalf("suite on a %s toy: got a passing run, want failures in %v\n%s", tc.flaw, tc.mustFail, out)
			}
			failed := failedSubtests(out)
			for _, name := range tc.mustFail {
				if !failed[name] {
					t.Errorf("suite on a %s toy: subtest %s passed, want it to fail; failed: %v", tc.flaw, name, keys(failed))
				}
			}
		})
	}
}

// TestBrokenHelperControl runs the child with a flawless toy, so a child
// that fails for reasons of its own (flags, environment) is not mistaken
// for the suite biting.
func TestBrokenHelperControl(t *testing.T) {
	if testing.Short() {
		t.Skip("re-runs the test binary")
	}
	t.Parallel()
	out, err := runBroken(t, "none")
	if err != nil {
		t.Fatalf("suite on a flawless toy in a child process: got %v, want a passing run\n%s", err, out)
	}
	if !strings.Contains(out, "--- PASS: TestBrokenHelper/SettleConcurrent") {
		t.Fatalf("child output does not show the suite running:\n%s", out)
	}
}

func runBroken(t *testing.T, f flaw, only ...string) (string, error) {
	t.Helper()
	out, err := childRun(f, only...)
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("running the test binary: %v", err)
	}
	return out, err
}

// childRun runs the suite on a toy with flaw f in a child process, only
// the subtests named in only if any, and returns its output; err is an
// *exec.ExitError when the suite failed.
func childRun(f flaw, only ...string) (string, error) {
	run := "^TestBrokenHelper$"
	if len(only) > 0 {
		// Only the subtests that must bite: the rest of the suite would
		// pass or fail on this toy all the same, and running it in full
		// once per flaw was most of this package's time.
		quoted := make([]string, len(only))
		for i, name := range only {
			quoted[i] = regexp.QuoteMeta(name)
		}
		run += "/^(" + strings.Join(quoted, "|") + ")$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), brokenEnv+"="+string(f))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: TestBrokenHelper/([^/\s]+)`)

func failedSubtests(out string) map[string]bool {
	failed := map[string]bool{}
	for _, m := range failLine.FindAllStringSubmatch(out, -1) {
		failed[m[1]] = true
	}
	return failed
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
