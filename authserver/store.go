package authserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	_ "modernc.org/sqlite" // pure-Go driver: the binary stays static with CGO off
)

// Store is the auth database: users, sessions and refresh tokens. It is
// safe for concurrent use, also by several processes on the same SQLite
// file (the server and `myapp auth user ...`).
type Store struct {
	path string
	d    dialect
	// w has exactly one connection. SQLite admits one writer at a time;
	// queueing writers in database/sql is fair and cannot fail, whereas
	// several write connections would spin on SQLITE_BUSY. Its transactions
	// start with BEGIN IMMEDIATE so that another process holding the lock
	// is waited for (busy_timeout) at BEGIN, never hit at a later upgrade
	// from read to write, where SQLite gives up with "database is locked".
	w *sql.DB
	// r serves plain reads; WAL lets them run beside the writer.
	r *sql.DB
	// hashes bounds concurrent Argon2id computations: each one takes
	// 19 MiB and a core for ~30 ms, so a login burst must queue, not
	// exhaust memory.
	hashes chan struct{}
}

// dialect is what differs between SQL engines. Queries elsewhere stick to
// SQL that SQLite, PostgreSQL and MySQL share (no RETURNING, no upserts);
// a later MySQL/PostgreSQL store adds a dialect, a migrations directory and
// placeholder rebinding for PostgreSQL's $n.
type dialect struct {
	name       string
	migrations string // directory inside migrationsFS
	// forUpdate follows the SELECT that reads a refresh token inside the
	// rotation transaction. SQLite needs nothing: BEGIN IMMEDIATE already
	// holds the only write lock. PostgreSQL and MySQL need " FOR UPDATE" so
	// that two concurrent refreshes of one token serialise on its row.
	forUpdate string
}

var sqliteDialect = dialect{name: "sqlite", migrations: "migrations/sqlite"}

// busyTimeout is how long a connection waits for another process's write
// lock before failing; user management from the CLI takes milliseconds.
const busyTimeout = 5 * time.Second

// OpenStore opens the database named by a DB_URL (see the package doc for
// the accepted forms) and applies any pending schema migrations.
func OpenStore(ctx context.Context, dbURL string) (*Store, error) {
	t, err := parseDBURL(dbURL)
	if err != nil {
		return nil, err
	}
	s, err := openSQLite(ctx, t.path)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate database %s: %w", t.path, err)
	}
	return s, nil
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("open database %s: directory %s does not exist or is not accessible: %w", path, dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("open database %s: %s is not a directory", path, dir)
	}
	// Create the file ourselves so that it is 0600 from the first byte: it
	// holds password hashes. SQLite gives its -wal and -shm files the same
	// mode as the database.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create database %s: %w", path, err)
	}

	common := fmt.Sprintf("?_busy_timeout=%d&_foreign_keys=1", busyTimeout.Milliseconds())
	// synchronous stays FULL (the default): a revocation or password
	// change that a power cut undoes would be a security bug.
	w, err := sql.Open("sqlite", path+common+"&_journal_mode=WAL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	n := max(2, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(2 * n)
	r.SetMaxIdleConns(n)
	return &Store{
		path:   path,
		d:      sqliteDialect,
		w:      w,
		r:      r,
		hashes: make(chan struct{}, n),
	}, nil
}

// Close releases the database. It does not wait for requests in flight;
// shut the HTTP server down first.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping reports whether the database answers a query on the auth schema.
func (s *Store) Ping(ctx context.Context) error {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM myapp_auth_schema_migrations`).Scan(&v)
	if err != nil {
		return fmt.Errorf("ping database %s: %w", s.path, err)
	}
	return nil
}

// writeTx runs fn in a write transaction. fn must use only tx: the single
// write connection is taken, so any other write from fn would deadlock.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback() // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// millis is how the schema stores time: integers work the same in every
// SQL engine and need no driver time parsing.
func millis(t time.Time) int64 { return t.UnixMilli() }
