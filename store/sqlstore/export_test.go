package sqlstore

import (
	"context"
	"time"
)

// MigrationVersions lists the schema versions Migrate applies, in order:
// versions are not contiguous on every branch, so tests ask instead of
// counting to LatestVersion.
func MigrationVersions() []int {
	var vs []int
	for _, m := range migrations {
		vs = append(vs, m.version)
	}
	return vs
}

// ConflictTries is how often a transaction that keeps losing to others is
// run before its error is returned.
const ConflictTries = conflictTries

// WithConflictBackoff returns ctx under which the store waits between
// runs of a transaction that lost to another from least, doubling up to
// most, instead of its own backoff: the runs and their outcome are the
// same, only the waits shorter.
func WithConflictBackoff(ctx context.Context, least, most time.Duration) context.Context {
	return context.WithValue(ctx, backoffKey{}, [2]time.Duration{least, most})
}

// Disown is the clean-up of a failed take.
func (l *Locker) Disown(ctx context.Context, name, token string, ttl time.Duration) {
	l.disown(ctx, name, token, ttl)
}

// LateTake runs a take's statement for token as the server would run one
// whose caller had given up: after the caller's clean-up.
func (l *Locker) LateTake(ctx context.Context, name, token string, ttl time.Duration) error {
	_, err := l.db.ExecContext(ctx, l.q.take, name, token, ttl.Microseconds())
	return err
}

// ReadQueries are the statements that read one attempt, a business
// order's attempts, and the attempts a claim picked (with one
// placeholder), for tests that look at their plans.
func (s *Store) ReadQueries() (get, listByBusiness, claimed string) {
	return s.q.get, s.q.listByBusiness, rebind(s.dialect, selectOrders(s.dialect, s.prefix)+" WHERE o.out_trade_no IN (?)")
}

// WaitPurged waits until the lease rows s released in place (MySQL) are
// deleted, or ctx ends.
func WaitPurged(ctx context.Context, s *Store) error {
	if s.released == nil {
		return nil
	}
	return s.released.Wait(ctx)
}

// PurgeReleased runs one batch of the deletion of lease rows released in
// place, now, for names.
func PurgeReleased(s *Store, names []string) { s.purgeReleased(names) }

// WriteQueries are the compare-and-sets that change one attempt, found by
// its key, under conditions on its status, by name, for tests that look
// at their plans. Empty ones (not on this dialect) are left out.
func (s *Store) WriteQueries() map[string]string {
	m := map[string]string{
		"settle": s.q.settle, "markFulfilled": s.q.markFulfilled, "markRelease": s.q.markRelease,
		"settleLease": s.q.settleLease, "settleLeaseMoney": s.q.settleLeaseMoney,
		"readSettleLease": s.q.readSettleLease, "readSettleLeaseMoney": s.q.readSettleLeaseMoney,
		"abandon": s.q.abandon, "reverse": s.q.reverse, "finish": s.q.finish,
		"refundClaim": s.rq.claim, "markRefunded": s.rq.markRefunded,
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}
