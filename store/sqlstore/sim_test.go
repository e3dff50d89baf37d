package sqlstore_test

import (
	"database/sql"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cypaykit/kit/store/sqlstore"
	"github.com/cypaykit/kit/store/sqlstore/sqlsim"
)

// The simulated servers, on the test MariaDB and PostgreSQL (see package
// sqlsim). TiDB and PostgreSQL SERIALIZABLE fail every fifth COMMIT of a
// transaction that wrote, as a concurrent writer would make them, so every
// test through them also proves that the store runs a lost transaction
// again instead of reporting it. The TiDB simulation also gives the rows
// of a multi-row INSERT IDs with gaps, as TiDB may.
var (
	simTiDB      = &sqlsim.Driver{Engine: sqlsim.TiDB, Base: &mysql.MySQLDriver{}, ConflictEvery: 5, AutoIDGaps: true}
	simOceanBase = &sqlsim.Driver{Engine: sqlsim.OceanBase, Base: &mysql.MySQLDriver{}}
	simPGSerial  = &sqlsim.Driver{Engine: sqlsim.PostgresSerializable, Base: stdlib.GetDefaultDriver(), ConflictEvery: 5}
)

func init() {
	sql.Register("sqlsim-tidb", simTiDB)
	sql.Register("sqlsim-oceanbase", simOceanBase)
	sql.Register("sqlsim-pg-serializable", simPGSerial)
}

// simTargets are the simulated servers, run by the conformance suite and
// the tests of what only a distributed server does.
var simTargets = []target{
	{name: "tidb-sim", dialect: sqlstore.MySQL, driver: "sqlsim-tidb", shared: true,
		newDSN: serverDSN("sqlsim-tidb", "CYPAY_TEST_MYSQL", defaultMySQL)},
	{name: "oceanbase-sim", dialect: sqlstore.MySQL, driver: "sqlsim-oceanbase", shared: true,
		newDSN: serverDSN("sqlsim-oceanbase", "CYPAY_TEST_MYSQL", defaultMySQL)},
	{name: "postgres-serializable-sim", dialect: sqlstore.Postgres, driver: "sqlsim-pg-serializable", shared: true,
		newDSN: serverDSN("sqlsim-pg-serializable", "CYPAY_TEST_POSTGRES", defaultPostgres)},
}
