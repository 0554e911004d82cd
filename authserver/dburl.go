package authserver

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrUnsupportedDB is returned by OpenStore for database URLs this build
// recognises but cannot open yet (MySQL, PostgreSQL).
var ErrUnsupportedDB = errors.New("database not supported yet")

// dbTarget is a parsed DB_URL. Only the SQLite form exists today; the
// driver field is where MySQL and PostgreSQL will branch off later.
type dbTarget struct {
	driver string // "sqlite"
	path   string // absolute path of the SQLite file
}

// parseDBURL accepts the SQLAlchemy URLs the Python backend reads from the
// same .env, so both sides open the same file:
//
//	sqlite:////abs/path/app.db    absolute (four slashes)
//	sqlite:///relative/app.db     relative to the working directory
//	sqlite+pysqlite:///...        any SQLAlchemy driver suffix
//	sqlite:/abs/path/app.db       plain scheme + path
//	sqlite:relative/app.db
//
// A query string (SQLAlchemy connect options such as ?timeout=30) is meant
// for the Python driver and ignored here. Errors never echo the URL: a
// MySQL or PostgreSQL URL carries a password.
func parseDBURL(raw string) (dbTarget, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return dbTarget{}, errors.New("DB_URL is empty")
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/\\") {
		return dbTarget{}, errors.New("DB_URL has no scheme; hint: use sqlite:////absolute/path/app.db")
	}
	base, _, _ := strings.Cut(strings.ToLower(scheme), "+")
	switch base {
	case "sqlite", "sqlite3":
	case "mysql", "mariadb", "postgres", "postgresql", "pgsql":
		return dbTarget{}, fmt.Errorf("DB_URL scheme %q: %w (only sqlite for now)", scheme, ErrUnsupportedDB)
	default:
		return dbTarget{}, fmt.Errorf("DB_URL scheme %q is not a known database", scheme)
	}

	path, _, _ := strings.Cut(rest, "?")
	switch {
	case strings.HasPrefix(path, "//"):
		// SQLAlchemy: sqlite://<host>/<database>; the host must be empty
		// and the database part is taken literally, so "sqlite:////x" is
		// "/x" and "sqlite:///x" is "x".
		host, db, _ := strings.Cut(path[2:], "/")
		if host != "" {
			return dbTarget{}, fmt.Errorf("DB_URL: sqlite URL has a host part %q; hint: sqlite:////absolute/path/app.db", host)
		}
		path = db
	case strings.HasPrefix(path, "/"):
		// sqlite:/abs/path: already absolute.
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		// An in-memory database would forget every user and session on
		// restart, and SQLite URI filenames would let the URL smuggle
		// open flags; neither belongs in an auth server's configuration.
		return dbTarget{}, errors.New("DB_URL: sqlite needs a file path; hint: sqlite:////var/lib/myapp/<app>/app.db")
	}
	if strings.ContainsRune(path, 0) {
		return dbTarget{}, errors.New("DB_URL: sqlite path contains a NUL byte")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return dbTarget{}, fmt.Errorf("DB_URL: resolve sqlite path: %w", err)
	}
	return dbTarget{driver: "sqlite", path: abs}, nil
}
