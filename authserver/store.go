package authserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // pure-Go driver: the binary stays static with CGO off
)

// Store is the auth database: users, sessions and refresh tokens. It is
// safe for concurrent use, also by several processes on one database (the
// server, a second server instance, `myapp auth user ...`).
type Store struct {
	name string // identifies the database in messages, without secrets
	path string // the SQLite file; empty for MySQL and PostgreSQL
	d    *dialect
	// w runs write transactions. For SQLite it has exactly one
	// connection: SQLite admits one writer at a time, and queueing writers
	// in database/sql is fair and cannot fail, whereas several write
	// connections would spin on SQLITE_BUSY. Its transactions start with
	// BEGIN IMMEDIATE so that another process holding the lock is waited
	// for (busy_timeout) at BEGIN, never hit at a later upgrade from read
	// to write, where SQLite gives up with "database is locked".
	w *sql.DB
	// r serves plain reads; for SQLite WAL lets them run beside the
	// writer. For MySQL and PostgreSQL r and w are one pool.
	r *sql.DB
	// hashes bounds concurrent password hashes: each Argon2id takes 19 MiB
	// and a core for ~30 ms, so a login burst must queue, not exhaust
	// memory.
	hashes chan struct{}
	// sqliteSync is the write connection's PRAGMA synchronous; only the
	// holder of that one connection reads or writes it.
	sqliteSync string
	// lastSweep is when housekeeping last ran (Unix ms, policy clock).
	lastSweep atomic.Int64
	// hot holds the hot paths' statements prepared on w, by query text
	// (prepared.go); read-only once the Store is open. unprepared counts
	// hot-path queries that missed it.
	hot        map[string]*sql.Stmt
	unprepared atomic.Int64
}

// busyTimeout is how long a SQLite connection waits for another process's
// write lock before failing; user management from the CLI takes
// milliseconds.
const busyTimeout = 5 * time.Second

// OpenStore opens the database named by a DB_URL (see the package doc for
// the accepted forms) and applies any pending schema migrations. A
// mistake in the URL itself matches ErrInvalidDBURL. No error shows the
// URL's password, whatever part of the URL it came from.
func OpenStore(ctx context.Context, dbURL string) (*Store, error) {
	s, err := openStore(ctx, dbURL, true)
	return s, RedactError(err, dbURL)
}

// ErrNoDatabase matches (errors.Is) OpenExistingStore's error for a SQLite
// database file that does not exist.
var ErrNoDatabase = errors.New("no such database file")

// OpenExistingStore is OpenStore for callers that work on what an earlier
// one created, such as listing users: where OpenStore would create a
// missing SQLite file, it fails with an error matching ErrNoDatabase, so
// that a DB_URL with a typo is not mistaken for an empty database.
func OpenExistingStore(ctx context.Context, dbURL string) (*Store, error) {
	s, err := openStore(ctx, dbURL, false)
	return s, RedactError(err, dbURL)
}

func openStore(ctx context.Context, dbURL string, create bool) (*Store, error) {
	t, err := parseDBURL(dbURL)
	if err != nil {
		return nil, err
	}
	var s *Store
	switch t.driver {
	case "sqlite":
		s, err = openSQLite(ctx, t.path, create)
	case "mysql":
		s, err = openServerDB(ctx, t.name, &mysqlDialect, func() (*sql.DB, error) {
			c, err := mysql.NewConnector(t.mysql)
			if err != nil {
				return nil, err
			}
			return sql.OpenDB(c), nil
		})
	case "postgres":
		s, err = openServerDB(ctx, t.name, &postgresDialect, func() (*sql.DB, error) {
			return stdlib.OpenDB(*t.pg), nil
		})
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate database %s: %w", s.name, err)
	}
	if err := s.prepareHot(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open database %s: %w", s.name, err)
	}
	return s, nil
}

func newStore(name string, d *dialect, w, r *sql.DB) *Store {
	return &Store{name: name, d: d, w: w, r: r, hashes: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
}

func openSQLite(ctx context.Context, path string, create bool) (*Store, error) {
	if !create {
		// SQLite would create the file on open; a missing directory is a
		// missing file too. Another error (a directory we may not search)
		// is left to the checks and the open below to word.
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open database %s: %w", path, ErrNoDatabase)
		}
	}
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
	// synchronous starts at FULL; writeTx lowers it only for transactions
	// whose loss in a power cut would merely log someone out.
	w, err := sql.Open("sqlite", path+common+"&_journal_mode=WAL&_txlock=immediate&_pragma=synchronous(FULL)")
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
	s := newStore(path, &sqliteDialect, w, r)
	s.path, s.sqliteSync = path, "FULL"
	return s, nil
}

// openServerDB opens a MySQL or PostgreSQL pool. It is sized for requests
// that wait on a session's row lock while others proceed; two instances
// stay far below either server's default connection limit.
func openServerDB(ctx context.Context, name string, d *dialect, open func() (*sql.DB, error)) (*Store, error) {
	db, err := open()
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", name, err)
	}
	n := max(8, 4*runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	// Recycled connections pick up server-side changes (failover, a
	// password rotation) without a restart.
	db.SetConnMaxLifetime(time.Hour)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", name, err)
	}
	return newStore(name, d, db, db), nil
}

// Close releases the database. It does not wait for requests in flight;
// shut the HTTP server down first.
func (s *Store) Close() error {
	s.closeHot()
	if s.r == s.w {
		return s.w.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping reports whether the database answers a query on the auth schema.
func (s *Store) Ping(ctx context.Context) error {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM myapp_auth_schema_migrations`).Scan(&v)
	if err != nil {
		return fmt.Errorf("ping database %s: %w", s.name, err)
	}
	return nil
}

// maxTxAttempts bounds the retries of a transaction that lost a deadlock.
const maxTxAttempts = 5

// writeTx runs fn in a write transaction, again from the start if the
// database chose it as a deadlock victim, so fn must set its results
// afresh on each call. fn must use only tx: for SQLite the single write
// connection is taken, so any other write from fn would deadlock.
//
// durable=false is for writes whose loss in a power cut only logs
// someone out (logins, rotations): they skip the wait for the disk. A
// revocation or user change is durable, and flushes earlier relaxed
// commits with it, so none is ever undone while a later one survives.
func (s *Store) writeTx(ctx context.Context, durable bool, fn func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, durable, fn)
		if err == nil || attempt == maxTxAttempts || !retryable(err) {
			return err
		}
		// A random pause, so the two sides of a deadlock do not meet again.
		select {
		case <-time.After(time.Duration(1+rand.IntN(5*attempt)) * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

func (s *Store) tryTx(ctx context.Context, durable bool, fn func(tx *sql.Tx) error) error {
	var tx *sql.Tx
	if s.path != "" {
		conn, err := s.w.Conn(ctx)
		if err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		defer conn.Close()
		// SQLite refuses to change synchronous inside a transaction.
		level := "NORMAL"
		if durable {
			level = "FULL"
		}
		if level != s.sqliteSync {
			if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = "+level); err != nil {
				return fmt.Errorf("set synchronous: %w", err)
			}
			s.sqliteSync = level
		}
		if tx, err = conn.BeginTx(ctx, nil); err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
	} else {
		var err error
		if tx, err = s.w.BeginTx(ctx, s.d.txOptions); err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		if !durable && s.d.relaxCommit != "" {
			if _, err := tx.ExecContext(ctx, s.d.relaxCommit); err != nil {
				tx.Rollback()
				return fmt.Errorf("begin transaction: %w", err)
			}
		}
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
