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
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// ErrUnsupportedDB is returned by OpenStore for a DB_URL whose scheme
// names a database this build cannot open.
var ErrUnsupportedDB = errors.New("database not supported")

// ErrInvalidDBURL matches (errors.Is) every OpenStore error about the
// DB_URL itself, as opposed to reaching or using the database: a
// configuration mistake, ErrUnsupportedDB included.
var ErrInvalidDBURL = errors.New("invalid DB_URL")

// dbURLError is a mistake in a DB_URL. Its message never holds the
// password.
type dbURLError struct{ err error }

func (e *dbURLError) Error() string        { return e.err.Error() }
func (e *dbURLError) Unwrap() error        { return e.err }
func (e *dbURLError) Is(target error) bool { return target == ErrInvalidDBURL }

func badURL(format string, args ...any) error {
	return &dbURLError{fmt.Errorf(format, args...)}
}

// dbTarget is a parsed DB_URL: exactly one of path, mysql and pg is set.
type dbTarget struct {
	driver string // "sqlite", "mysql" or "postgres"
	path   string // absolute path of the SQLite file
	// written is the SQLite path as the URL gave it: relative to the
	// working directory unless absolute.
	written string
	mysql   *mysql.Config
	pg      *pgx.ConnConfig
	// name identifies the database in messages: never the password.
	name string
}

// parseDBURL accepts the SQLAlchemy URLs the Python backend reads from the
// same .env, so both sides open the same database. Errors never echo the
// URL: a MySQL or PostgreSQL URL carries a password.
func parseDBURL(raw string) (dbTarget, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return dbTarget{}, badURL("DB_URL is empty")
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || !validScheme(scheme) {
		return dbTarget{}, badURL("DB_URL has no scheme; hint: use sqlite:////absolute/path/app.db")
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
		return dbTarget{}, badURL("DB_URL scheme %q: %w; hint: sqlite, mysql, mariadb or postgresql", scheme, ErrUnsupportedDB)
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
	if a, ok := strings.CutPrefix(path, "//"); ok {
		// SQLAlchemy: sqlite://<host>/<database>; the host must be empty
		// and the database part is taken literally, so "sqlite:////x" is
		// "/x" and "sqlite:///x" is "x".
		if _, ok := splitUserinfo(a); ok {
			return dbTarget{}, badURL("DB_URL: a sqlite URL takes no user or password, only a file path; hint: sqlite:////absolute/path/app.db")
		}
		host, db, _ := strings.Cut(a, "/")
		if host != "" {
			return dbTarget{}, badURL("DB_URL: sqlite URL has a host part %q; hint: sqlite:////absolute/path/app.db", host)
		}
		path = db
	}
	if ui, ok := splitUserinfo(path); ok && ui.hasPass {
		// sqlite:///user:password@host/app.db would be a relative file
		// name; it is far likelier a server URL with the wrong scheme.
		return dbTarget{}, badURL("DB_URL: a sqlite URL takes no user or password, only a file path; hint: sqlite:////absolute/path/app.db")
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		// An in-memory database would forget every user and session on
		// restart, and SQLite URI filenames would let the URL smuggle
		// open flags; neither belongs in an auth server's configuration.
		return dbTarget{}, badURL("DB_URL: sqlite needs a file path; hint: sqlite:////var/lib/myapp/<app>/app.db")
	}
	if strings.ContainsRune(path, 0) {
		return dbTarget{}, badURL("DB_URL: sqlite path contains a NUL byte")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return dbTarget{}, badURL("DB_URL: resolve sqlite path: %w", err)
	}
	return dbTarget{driver: "sqlite", path: abs, written: path, name: abs}, nil
}

// SQLitePath returns the database file a sqlite DB_URL names, as the URL
// wrote it (relative to the working directory unless absolute: sqlite:///app.db
// rather than sqlite:////var/lib/app.db) and made absolute; ok is false
// for any other DB_URL, valid or not. It is for wording messages about
// the file.
func SQLitePath(dbURL string) (written, abs string, ok bool) {
	t, err := parseDBURL(dbURL)
	if err != nil || t.driver != "sqlite" {
		return "", "", false
	}
	return t.written, t.path, true
}

// serverURL parses the //user:pass@host:port/db?query part that MySQL and
// PostgreSQL URLs share. The user and password are split off as
// SQLAlchemy does (see splitUserinfo) and percent-decoded, so a password
// with an unescaped "/", "?", "#" or ":" means the same here as to the
// Python backend.
func serverURL(kind, rest string) (*url.URL, string, error) {
	malformed := badURL("DB_URL: malformed %s URL; hint: %s://user:password@host/database", kind, kind)
	a, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return nil, "", malformed
	}
	ui, hasUser := splitUserinfo(a)
	if hasUser {
		a = ui.rest
	}
	// url's errors would quote the URL; none of them is passed on.
	u, err := url.Parse("x://" + a)
	if err != nil || u.Opaque != "" {
		return nil, "", malformed
	}
	if u.User != nil {
		// A second "@": SQLAlchemy would take the first as the end of
		// the password and fail on the host; say what fixes it.
		return nil, "", badURL("DB_URL: malformed %s URL: an \"@\" in the user or password must be written %%40; hint: %s://user:password@host/database", kind, kind)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, "", badURL("DB_URL: %s URL needs one database name after the host; hint: %s://user:password@host/database", kind, kind)
	}
	if !hasUser || ui.user == "" {
		return nil, "", badURL("DB_URL: %s URL has no user; hint: %s://user:password@host/database", kind, kind)
	}
	if ui.hasPass {
		u.User = url.UserPassword(unquote(ui.user), unquote(ui.pass))
	} else {
		u.User = url.User(unquote(ui.user))
	}
	return u, db, nil
}

// userinfo is the user:password@ part of a URL, as written.
type userinfo struct {
	user, pass string
	hasPass    bool
	rest       string // what follows the "@"
}

// splitUserinfo finds user[:password]@ at the start of a, the URL after
// "//", as SQLAlchemy's make_url reads it: the user is everything up to a
// ":" or "/", the password everything from that ":" to the next "@".
// Without a ":" before the "@" there is no password, and the user runs to
// the last "@" before the first "/" or ":".
func splitUserinfo(a string) (userinfo, bool) {
	i := strings.IndexAny(a, ":/")
	if i >= 0 && a[i] == ':' {
		if j := strings.IndexByte(a[i+1:], '@'); j >= 0 {
			return userinfo{user: a[:i], pass: a[i+1 : i+1+j], hasPass: true, rest: a[i+2+j:]}, true
		}
	}
	region := a
	if i >= 0 {
		region = a[:i]
	}
	if k := strings.LastIndexByte(region, '@'); k >= 0 {
		return userinfo{user: region[:k], rest: a[k+1:]}, true
	}
	return userinfo{}, false
}

// unquote percent-decodes like Python's urllib.parse.unquote, which
// SQLAlchemy applies to the user and password: a malformed escape is
// kept as written.
func unquote(s string) string {
	if v, err := url.PathUnescape(s); err == nil {
		return v
	}
	return s
}

// validScheme is RFC 3986's scheme syntax, so that an error may quote it:
// a "scheme" holding anything else is no scheme, and may be a secret.
func validScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') || len(s) > 40 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// dbURLSecrets returns every form in which the password of raw could
// appear in a message: as written, decoded and re-encoded, under both
// SQLAlchemy's reading of the URL and net/url's, and for a path that
// reads like user:password@host.
func dbURLSecrets(raw string) []string {
	_, rest, ok := strings.Cut(strings.TrimSpace(raw), ":")
	if !ok {
		return nil
	}
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		for _, v := range []string{p, unquote(p), url.QueryEscape(unquote(p)), url.PathEscape(unquote(p)),
			strings.TrimPrefix(url.UserPassword("", unquote(p)).String(), ":")} {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	a, slashes := strings.CutPrefix(rest, "//")
	if slashes {
		if ui, ok := splitUserinfo(a); ok && ui.hasPass {
			add(ui.pass)
		}
	}
	// net/url: the authority ends at the first "/", "?" or "#"; the
	// userinfo at its last "@". Without "//", the first path segment.
	auth := a
	if i := strings.IndexAny(auth, "/?#"); i >= 0 {
		auth = auth[:i]
	}
	if k := strings.LastIndexByte(auth, '@'); k >= 0 {
		if _, p, ok := strings.Cut(auth[:k], ":"); ok {
			add(p)
		}
	}
	return out
}

// RedactError returns err with every form of dbURL's password in its
// message replaced by "xxxxx"; errors.Is and errors.As still see err.
// OpenStore's errors are redacted already; this is for callers that add
// their own.
func RedactError(err error, dbURL string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	red := msg
	for _, s := range dbURLSecrets(dbURL) {
		red = replaceWord(red, s, "xxxxx")
	}
	if red == msg {
		return err
	}
	return &redactedError{msg: red, err: err}
}

// replaceWord replaces the occurrences of old in s that stand on their
// own: not glued to a letter or digit on a side where old itself begins or
// ends with one. A password always appears so in a URL or a DSN
// ("u:p@host", "password=p "), while a short password such as "p" is left
// inside words ("open", "tcp"), which blind replacement would garble.
func replaceWord(s, old, repl string) string {
	if old == "" {
		return s
	}
	word := func(c byte) bool { // an ASCII letter or digit, or part of a non-ASCII character
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c >= 0x80
	}
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			break
		}
		j := i + len(old)
		glued := (i > 0 && word(s[i-1]) && word(old[0])) || (j < len(s) && word(s[j]) && word(old[len(old)-1]))
		if glued {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s = s[j:]
	}
	b.WriteString(s)
	return b.String()
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

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
			return dbTarget{}, badURL("DB_URL: ssl_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return dbTarget{}, badURL("DB_URL: ssl_ca %s holds no PEM certificate", ca)
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
	u.Scheme = "postgres"
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		// pgx masks the password itself; OpenStore redacts again.
		return dbTarget{}, badURL("DB_URL: postgresql URL: %s", err)
	}
	name := fmt.Sprintf("postgresql://%s@%s/%s", u.User.Username(), u.Host, db)
	return dbTarget{driver: "postgres", pg: cfg, name: name}, nil
}
