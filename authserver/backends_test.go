package authserver

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
)

// The MySQL/MariaDB and PostgreSQL tests run against real servers, named
// by these variables (scripts/test.sh starts both and sets them), e.g.
//
//	MYAPP_TEST_MYSQL_URL=mysql+pymysql://myapp_test:pw@127.0.0.1:3306/myapp_test
//	MYAPP_TEST_POSTGRES_URL=postgresql+psycopg://myapp_test:pw@127.0.0.1:5432/myapp_test
//
// The MySQL user must be allowed to create databases named after the one
// in its URL plus a suffix; the PostgreSQL user to create schemas in its
// database. Each test gets a database (MySQL) or schema (PostgreSQL) of
// its own, dropped afterwards.
var backendEnv = map[string]string{
	"mysql":    "MYAPP_TEST_MYSQL_URL",
	"postgres": "MYAPP_TEST_POSTGRES_URL",
}

var allBackends = []string{"sqlite", "mysql", "postgres"}

// forEachBackend runs f once per database kind, as subtests. A server
// whose variable is unset is skipped with the reason, except under
// CI=true, where CI promised to start it and its absence is a failure.
func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	t.Helper()
	for _, b := range allBackends {
		t.Run(b, func(t *testing.T) {
			requireBackend(t, b)
			f(t, b)
		})
	}
}

func requireBackend(t *testing.T, b string) {
	t.Helper()
	v, ok := backendEnv[b]
	if !ok || os.Getenv(v) != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set: CI must start %s and point the tests at it (scripts/test.sh does)", v, b)
	}
	t.Skipf("%s is not set; run scripts/test.sh, or point it at a %s test database", v, b)
}

// freshDBURL returns a DB_URL naming an empty database of the given kind,
// removed when the test ends.
func freshDBURL(t *testing.T, backend string) string {
	t.Helper()
	if backend == "sqlite" {
		return "sqlite:///" + filepath.Join(t.TempDir(), "app.db")
	}
	requireBackend(t, backend)
	base := os.Getenv(backendEnv[backend])
	admin := openRaw(t, base)
	suffix := "_" + randomHex(6)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", backendEnv[backend], err)
	}
	var create, drop string
	switch backend {
	case "mysql":
		db := strings.TrimPrefix(u.Path, "/") + suffix
		create, drop = "CREATE DATABASE "+db, "DROP DATABASE IF EXISTS "+db
		u.Path = "/" + db
	case "postgres":
		schema := "t" + suffix
		create, drop = "CREATE SCHEMA "+schema, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"
		q := u.Query()
		q.Set("search_path", schema) // pgx sends unknown parameters as run-time settings
		u.RawQuery = q.Encode()
	}
	if _, err := admin.Exec(create); err != nil {
		t.Fatalf("%s: %v", create, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(drop); err != nil {
			t.Errorf("%s: %v", drop, err)
		}
		admin.Close()
	})
	return u.String()
}

// openRaw opens a DB_URL without migrating it, for test setup.
func openRaw(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	tg, err := parseDBURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	switch tg.driver {
	case "mysql":
		c, err := mysql.NewConnector(tg.mysql)
		if err != nil {
			t.Fatal(err)
		}
		return sql.OpenDB(c)
	case "postgres":
		return stdlib.OpenDB(*tg.pg)
	}
	t.Fatalf("openRaw: %s", tg.driver)
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func openTestStoreOn(t *testing.T, backend string) *Store {
	t.Helper()
	st, err := OpenStore(t.Context(), freshDBURL(t, backend))
	if err != nil {
		t.Fatalf("open %s store: %v", backend, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestFreshDBURLsAreSeparate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		a, c := openTestStoreOn(t, b), openTestStoreOn(t, b)
		if err := a.AddUser(t.Context(), "only-in-a", testPassword); err != nil {
			t.Fatal(err)
		}
		if us, err := c.ListUsers(t.Context()); err != nil || len(us) != 0 {
			t.Fatalf("second database sees %v, %v", us, err)
		}
	})
}
