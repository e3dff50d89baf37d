// Package e2e runs the handler's end-to-end guarantees against the real
// databases: the duplicate-notification storm on sqlstore (PostgreSQL,
// MariaDB, SQLite) with the Redis locker, as several app instances sharing
// one database and one Redis would run it. It is a module of its own so
// that the kit's root module never depends on a driver.
package e2e
