package authserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// ErrUnsupportedDB is returned by OpenStore for a DB_URL whose scheme
// names a database this build cannot open.
var ErrUnsupportedDB = errors.New("database not supported")

// dbTarget is a parsed DB_URL: exactly one of path, mysql and pg is set.
type dbTarget struct {
	driver string // "sqlite", "mysql" or "postgres"
	path   string // absolute path of the SQLite file
	mysql  *mysql.Config
	pg     *pgx.ConnConfig
	// name identifies the database in messages: never the password.
	name string
}

// parseDBURL accepts the SQLAlchemy URLs the Python backend reads from the
// same .env, so both sides open the same database. Errors never echo the
// URL: a MySQL or PostgreSQL URL carries a password.
func parseDBURL(raw string) (dbTarget, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return dbTarget{}, errors.New("DB_URL is empty")
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/\\") {
		return dbTarget{}, errors.New("DB_URL has no scheme; hint: use sqlite:////absolute/path/app.db")
	}
	// SQLAlchemy names the Python driver after a "+" (mysql+pymysql,
	// postgresql+psycopg): it means nothing to us.
	base, _, _ := strings.Cut(strings.ToLower(scheme), "+")
	switch base {
	case "sqlite", "sqlite3":
		return parseSQLiteURL(rest)
	case "mysql", "mariadb":
		return parseMySQLURL(rest)
	case "postgres", "postgresql", "pgsql":
		return parsePostgresURL(rest)
	default:
		return dbTarget{}, fmt.Errorf("DB_URL scheme %q: %w; hint: sqlite, mysql, mariadb or postgresql", scheme, ErrUnsupportedDB)
	}
}

// parseSQLiteURL takes the part after "sqlite:":
//
//	sqlite:////abs/path/app.db    absolute (four slashes)
//	sqlite:///relative/app.db     relative to the working directory
//	sqlite:/abs/path/app.db       plain scheme + path
//	sqlite:relative/app.db
//
// A query string (SQLAlchemy connect options such as ?timeout=30) is meant
// for the Python driver and ignored here.
func parseSQLiteURL(rest string) (dbTarget, error) {
	path, _, _ := strings.Cut(rest, "?")
	if strings.HasPrefix(path, "//") {
		// SQLAlchemy: sqlite://<host>/<database>; the host must be empty
		// and the database part is taken literally, so "sqlite:////x" is
		// "/x" and "sqlite:///x" is "x".
		host, db, _ := strings.Cut(path[2:], "/")
		if host != "" {
			return dbTarget{}, fmt.Errorf("DB_URL: sqlite URL has a host part %q; hint: sqlite:////absolute/path/app.db", host)
		}
		path = db
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
	return dbTarget{driver: "sqlite", path: abs, name: abs}, nil
}

// serverURL parses the //user:pass@host:port/db?query part that MySQL and
// PostgreSQL URLs share.
func serverURL(kind, rest string) (*url.URL, string, error) {
	u, err := url.Parse("x:" + rest)
	if err != nil || u.Opaque != "" {
		// url's error would quote the URL, password and all.
		return nil, "", fmt.Errorf("DB_URL: malformed %s URL; hint: %s://user:password@host/database", kind, kind)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, "", fmt.Errorf("DB_URL: %s URL needs one database name after the host; hint: %s://user:password@host/database", kind, kind)
	}
	if u.User == nil || u.User.Username() == "" {
		return nil, "", fmt.Errorf("DB_URL: %s URL has no user; hint: %s://user:password@host/database", kind, kind)
	}
	return u, db, nil
}

// parseMySQLURL reads SQLAlchemy's mysql+pymysql://user:pass@host[:port]/db.
// Of the query parameters, unix_socket (no host: the socket path) and
// ssl_ca (a PEM file: TLS verified against it) are understood; the rest
// are PyMySQL connect options and ignored.
func parseMySQLURL(rest string) (dbTarget, error) {
	u, db, err := serverURL("mysql", rest)
	if err != nil {
		return dbTarget{}, err
	}
	q := u.Query()
	c := mysql.NewConfig()
	c.User = u.User.Username()
	c.Passwd, _ = u.User.Password()
	c.DBName = db
	c.Net, c.Addr = "tcp", u.Host
	switch {
	case q.Get("unix_socket") != "":
		c.Net, c.Addr = "unix", q.Get("unix_socket")
	case u.Host == "":
		c.Net, c.Addr = "unix", "/run/mysqld/mysqld.sock"
	case u.Port() == "":
		c.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	if ca := q.Get("ssl_ca"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return dbTarget{}, fmt.Errorf("DB_URL: ssl_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return dbTarget{}, fmt.Errorf("DB_URL: ssl_ca %s holds no PEM certificate", ca)
		}
		c.TLS = &tls.Config{RootCAs: pool, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	}
	// Client-side interpolation saves the prepare and close round trips
	// of every statement; the driver escapes for the utf8mb4 connection.
	c.InterpolateParams = true
	// RowsAffected counts matched rows, as SQLite and PostgreSQL do, not
	// only those whose values changed.
	c.ClientFoundRows = true
	c.Timeout = 10 * time.Second
	name := fmt.Sprintf("mysql://%s@%s/%s", c.User, c.Addr, db)
	return dbTarget{driver: "mysql", mysql: c, name: name}, nil
}

// parsePostgresURL reads postgresql+psycopg://user:pass@host[:port]/db.
// The query string goes to pgx as it would go to libpq (sslmode,
// sslrootcert, connect_timeout, ...); both accept the same names.
func parsePostgresURL(rest string) (dbTarget, error) {
	u, db, err := serverURL("postgresql", rest)
	if err != nil {
		return dbTarget{}, err
	}
	pw, _ := u.User.Password()
	u.Scheme = "postgres"
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		msg := err.Error()
		if pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
			msg = strings.ReplaceAll(msg, url.QueryEscape(pw), "xxxxx")
		}
		return dbTarget{}, fmt.Errorf("DB_URL: postgresql URL: %s", msg)
	}
	name := fmt.Sprintf("postgresql://%s@%s/%s", u.User.Username(), u.Host, db)
	return dbTarget{driver: "postgres", pg: cfg, name: name}, nil
}
