package sqlstore

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
