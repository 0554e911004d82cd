package authserver

import (
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// dialect is what differs between SQL engines. Queries elsewhere are
// written once, in SQL that SQLite, PostgreSQL and MySQL/MariaDB share (no
// RETURNING, no upserts, ? placeholders), and pass through q.
//
// Concurrency is handled per engine but to one rule: rows are locked in
// the order user → session → refresh token, and a transaction that loses a
// deadlock anyway is retried (see Store.writeTx).
type dialect struct {
	name       string
	migrations string // directory inside migrationsFS
	// lockSession locks a session row for the rest of a transaction, given
	// one of its refresh tokens' hashes; it returns the session id. Every
	// refresh or logout of the session queues on this lock, which makes
	// exactly one of fifty concurrent refreshes rotate. Empty for SQLite,
	// whose transactions all take the single write lock at BEGIN.
	lockSession string
	// forShare follows the SELECT of the user row at login, so a password
	// change in progress is waited for, not read around.
	forShare string
	// txOptions: READ COMMITTED, so that a statement after a lock wait sees
	// what the lock holder committed (MySQL's default, REPEATABLE READ,
	// would keep showing the snapshot from before the wait).
	txOptions *sql.TxOptions
	// relaxCommit runs first in a transaction whose loss in a power cut
	// would only log someone out (a login, a rotation): the commit then
	// does not wait for the disk. A later durable commit flushes it too.
	relaxCommit string
	// dollar placeholders ($1, $2...) instead of ?.
	dollar bool
}

var (
	sqliteDialect = dialect{name: "sqlite", migrations: "migrations/sqlite"}
	mysqlDialect  = dialect{
		name:        "mysql",
		migrations:  "migrations/mysql",
		lockSession: `SELECT id FROM myapp_auth_sessions WHERE id = (SELECT session_id FROM myapp_auth_refresh_tokens WHERE token_hash = ?) FOR UPDATE`,
		forShare:    " LOCK IN SHARE MODE", // MariaDB lacks FOR SHARE
		txOptions:   &sql.TxOptions{Isolation: sql.LevelReadCommitted},
		// innodb_flush_log_at_trx_commit is global only: no per-transaction relaxing.
	}
	postgresDialect = dialect{
		name:        "postgres",
		migrations:  "migrations/postgres",
		lockSession: `SELECT id FROM myapp_auth_sessions WHERE id = (SELECT session_id FROM myapp_auth_refresh_tokens WHERE token_hash = ?) FOR UPDATE`,
		forShare:    " FOR SHARE",
		txOptions:   &sql.TxOptions{Isolation: sql.LevelReadCommitted},
		relaxCommit: `SET LOCAL synchronous_commit TO OFF`,
		dollar:      true,
	}
)

// q adapts a query written with ? placeholders to the dialect. The
// queries of this package hold no ? inside string literals.
func (d *dialect) q(query string) string {
	if !d.dollar || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// retryable reports whether err is a deadlock or serialisation failure,
// after which the database has rolled the transaction back and running it
// again is the documented remedy.
func retryable(err error) bool {
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return my.Number == 1213 // ER_LOCK_DEADLOCK
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01" // serialization_failure, deadlock_detected
	}
	return false
}

// splitStatements cuts a migration file into statements for drivers that
// run one at a time. Comments are dropped first, because they may contain
// semicolons; migrations hold no semicolons or "--" inside literals.
func splitStatements(src string) []string {
	var b strings.Builder
	for _, line := range strings.Split(src, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	var out []string
	for _, st := range strings.Split(b.String(), ";") {
		if st = strings.TrimSpace(st); st != "" {
			out = append(out, st)
		}
	}
	return out
}
