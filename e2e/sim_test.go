package e2e_test

import (
	"database/sql"

	"github.com/go-sql-driver/mysql"

	"github.com/cypaykit/kit/store/sqlstore/sqlsim"
)

const mysqlDefault = "root@tcp(127.0.0.1:3306)/test?parseTime=true"

// The simulated servers on the test MariaDB (package sqlsim): TiDB, whose
// FOR UPDATE SKIP LOCKED takes no lock and whose optimistic COMMITs fail
// with 9007 (here one writing COMMIT in five) and whose multi-row INSERTs
// give their rows IDs with gaps, and OceanBase, which has no GET_LOCK.
func init() {
	sql.Register("sqlsim-tidb", &sqlsim.Driver{Engine: sqlsim.TiDB, Base: &mysql.MySQLDriver{}, ConflictEvery: 5, AutoIDGaps: true})
	// A second TiDB with a COMMIT count of its own, for a run beside one on
	// the first: each then fails every fifth of its own COMMITs, as it
	// would alone.
	sql.Register("sqlsim-tidb-2", &sqlsim.Driver{Engine: sqlsim.TiDB, Base: &mysql.MySQLDriver{}, ConflictEvery: 5, AutoIDGaps: true})
	// A third for the storm's TiDB target (sqlTargets), which runs beside
	// the reconciler runs on the first two now that the package's tests
	// run in parallel.
	sql.Register("sqlsim-tidb-storm", &sqlsim.Driver{Engine: sqlsim.TiDB, Base: &mysql.MySQLDriver{}, ConflictEvery: 5, AutoIDGaps: true})
	sql.Register("sqlsim-oceanbase", &sqlsim.Driver{Engine: sqlsim.OceanBase, Base: &mysql.MySQLDriver{}})
}
