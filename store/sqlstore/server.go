package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"sync"
)

// Engine is the database server behind a Dialect: MySQL's dialect is
// spoken by MySQL, MariaDB, TiDB and OceanBase, which differ in what their
// locks do.
type Engine string

// Engines a Store recognises from the server's version string.
const (
	EngineSQLite    Engine = "sqlite"
	EnginePostgres  Engine = "postgres"
	EngineMySQL     Engine = "mysql" // also TDSQL and PolarDB for MySQL, which report MySQL's version
	EngineMariaDB   Engine = "mariadb"
	EngineTiDB      Engine = "tidb"
	EngineOceanBase Engine = "oceanbase"
)

// Server is what a Store learned about its database server.
type Server struct {
	Engine Engine
	// Version is the server's own version string (VERSION(), version()),
	// for logs; empty on SQLite.
	Version string
}

// Distributed reports an engine whose nodes do not share one lock
// manager the way a single server does: TiDB (whose optimistic
// transactions take no lock until COMMIT, and which accepts FOR UPDATE
// SKIP LOCKED and takes no lock at all, pingcap/tidb#69720) and OceanBase.
// The store never relies on a locking clause there; its claims are
// exclusive by their conditional marks alone.
func (sv Server) Distributed() bool {
	return sv.Engine == EngineTiDB || sv.Engine == EngineOceanBase
}

// ConsecutiveIDs reports whether the rows of one multi-row INSERT …
// VALUES get consecutive auto-increment IDs (in steps of
// auto_increment_increment), so that LAST_INSERT_ID(), the first, names
// them all. MySQL's manual promises it for such "simple inserts" in every
// innodb_autoinc_lock_mode ("AUTO_INCREMENT Handling in InnoDB": in
// interleaved mode 2 only bulk inserts, whose row count is not known in
// advance, may get gaps), and MariaDB's InnoDB is the same. TiDB promises
// its values unique and monotonic per TiDB server, and says that is not
// the same as consecutive; OceanBase promises them unique (NOORDER) or
// increasing (ORDER). Neither is relied on.
func (sv Server) ConsecutiveIDs() bool {
	return !sv.Distributed()
}

// SkipLocked reports whether the store sends FOR UPDATE SKIP LOCKED, which
// lets concurrent claims pass each other: MySQL 8.0.1 and MariaDB 10.6
// onwards. It is only ever an optimisation: every claim's mark is
// conditional on what it read.
func (sv Server) SkipLocked() bool {
	switch sv.Engine {
	case EnginePostgres:
		return true
	case EngineMySQL:
		major, _ := versionNumbers(sv.Version)
		return major >= 8
	case EngineMariaDB:
		major, minor := versionNumbers(sv.Version)
		return major > 10 || major == 10 && minor >= 6
	}
	return false
}

// parseServer reads a VERSION() string such as "8.0.36",
// "10.11.6-MariaDB-0+deb12u1", "8.0.11-TiDB-v8.5.6" or
// "5.7.25-OceanBase_CE-v4.2.1.2".
func parseServer(d Dialect, version string) Server {
	sv := Server{Version: version}
	lower := strings.ToLower(version)
	switch {
	case d == SQLite:
		sv.Engine = EngineSQLite
	case d == Postgres:
		sv.Engine = EnginePostgres
	case strings.Contains(lower, "-tidb-"):
		sv.Engine = EngineTiDB
	case strings.Contains(lower, "oceanbase"):
		sv.Engine = EngineOceanBase
	case strings.Contains(lower, "mariadb"):
		sv.Engine = EngineMariaDB
	default:
		sv.Engine = EngineMySQL
	}
	return sv
}

// versionNumbers is the major and minor number a version string starts
// with, zeros when it does not.
func versionNumbers(version string) (major, minor int) {
	parts := strings.SplitN(strings.SplitN(version, "-", 2)[0], ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	return major, minor
}

// serverState caches Server's answer: New stays offline, so the server is
// asked on first need, once per Store.
type serverState struct {
	serverMu    sync.Mutex
	server      Server
	serverKnown bool
}

// Server reports the database server behind the Store, asking it
// (SELECT VERSION()) on the first call and remembering the answer; an
// error is not remembered. Claim calls it before its first claim.
func (s *Store) Server(ctx context.Context) (Server, error) {
	s.serverMu.Lock()
	defer s.serverMu.Unlock()
	if s.serverKnown {
		return s.server, nil
	}
	var v string
	switch s.dialect {
	case SQLite:
	case Postgres:
		if err := s.db.QueryRowContext(ctx, "SELECT version()").Scan(&v); err != nil {
			return Server{}, s.fail(ctx, "server version", err)
		}
	default:
		if err := s.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
			return Server{}, s.fail(ctx, "server version", err)
		}
	}
	s.server, s.serverKnown = parseServer(s.dialect, v), true
	return s.server, nil
}
