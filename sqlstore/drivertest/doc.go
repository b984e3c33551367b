// Package drivertest runs the sqlstore package against real drivers and
// servers: PostgreSQL (pgx), MariaDB/MySQL (go-sql-driver/mysql) and SQLite
// (modernc.org/sqlite). It is a separate module so that the library's
// go.mod gains no driver.
package drivertest
