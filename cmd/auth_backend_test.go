package cmd

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
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// The CLI's user commands must work on every database auth serve can use.
// MySQL/MariaDB and PostgreSQL come from the same variables as the
// authserver tests (scripts/test.sh starts both and sets them); without
// them those cases skip, except under CI=true, where they fail.
var authBackendEnv = map[string]string{
	"mysql":    "MYAPP_TEST_MYSQL_URL",
	"postgres": "MYAPP_TEST_POSTGRES_URL",
}

func forEachAuthBackend(t *testing.T, f func(t *testing.T, dbURL string)) {
	for _, b := range []string{"sqlite", "mysql", "postgres"} {
		t.Run(b, func(t *testing.T) { f(t, freshAuthDB(t, b)) })
	}
}

// freshAuthDB returns a DB_URL, in the Python form a .env would hold, for
// an empty database (MySQL) or schema (PostgreSQL) dropped afterwards.
func freshAuthDB(t *testing.T, backend string) string {
	t.Helper()
	if backend == "sqlite" {
		return "sqlite:///" + filepath.Join(t.TempDir(), "app.db")
	}
	v := authBackendEnv[backend]
	base := os.Getenv(v)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must start %s (scripts/test.sh does)", v, backend)
		}
		t.Skipf("%s is not set; run scripts/test.sh, or point it at a %s test database", v, backend)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", v, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	suffix := "_" + hex.EncodeToString(b)
	pw, _ := u.User.Password()
	var db *sql.DB
	var create, drop string
	switch backend {
	case "mysql":
		c := mysql.NewConfig()
		c.User, c.Passwd, c.Net, c.Addr = u.User.Username(), pw, "tcp", u.Host
		c.DBName = strings.TrimPrefix(u.Path, "/")
		conn, err := mysql.NewConnector(c)
		if err != nil {
			t.Fatal(err)
		}
		db = sql.OpenDB(conn)
		name := c.DBName + suffix
		create, drop = "CREATE DATABASE "+name, "DROP DATABASE IF EXISTS "+name
		u.Path = "/" + name
	case "postgres":
		pg := *u
		pg.Scheme = "postgres"
		if db, err = sql.Open("pgx", pg.String()); err != nil {
			t.Fatal(err)
		}
		schema := "cli" + suffix
		create, drop = "CREATE SCHEMA "+schema, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
	}
	if _, err := db.Exec(create); err != nil {
		t.Fatalf("%s: %v", create, err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec(drop); err != nil {
			t.Errorf("%s: %v", drop, err)
		}
		db.Close()
	})
	return u.String()
}
