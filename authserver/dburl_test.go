package authserver

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseSQLiteURL(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url, path string // path "" means an error is expected
		errHas    string
	}{
		{"sqlite:////var/lib/myapp/shop/app.db", "/var/lib/myapp/shop/app.db", ""},
		{"sqlite:///app.db", filepath.Join(wd, "app.db"), ""},
		{"sqlite:///data/app.db", filepath.Join(wd, "data/app.db"), ""},
		{"sqlite+pysqlite:////abs/app.db", "/abs/app.db", ""},
		{"SQLite+aiosqlite:////abs/app.db", "/abs/app.db", ""},
		{"sqlite:////abs/app.db?timeout=30&check_same_thread=false", "/abs/app.db", ""},
		{"sqlite:/abs/app.db", "/abs/app.db", ""},
		{"sqlite:app.db", filepath.Join(wd, "app.db"), ""},
		{"sqlite3:/abs/app.db", "/abs/app.db", ""},
		{"  sqlite:////abs/app.db\n", "/abs/app.db", ""},
		{"sqlite:////abs/dir/../app.db", "/abs/app.db", ""},
		{"sqlite:////abs/my app.db", "/abs/my app.db", ""},

		{"", "", "empty"},
		{"sqlite://", "", "file path"},
		{"sqlite:", "", "file path"},
		{"sqlite:///:memory:", "", "file path"},
		{"sqlite:///file:app.db?mode=ro&uri=true", "", "file path"},
		{"sqlite://host/app.db", "", "host part"},
		{"/var/lib/app.db", "", "no scheme"},
		{"app.db", "", "no scheme"},
		{"mongodb://user:hunter2@localhost/db", "", "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := parseDBURL(tt.url)
			if tt.path != "" {
				if err != nil || got.path != tt.path || got.driver != "sqlite" {
					t.Fatalf("= %+v, %v; want %s", got, err, tt.path)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("= %+v, %v; want an error about %q", got, err, tt.errHas)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
	if _, err := parseDBURL("oracle://u:p@h/db"); !errors.Is(err, ErrUnsupportedDB) {
		t.Errorf("oracle: %v, want ErrUnsupportedDB", err)
	}
}

// The Python backend's SQLAlchemy URLs must work unchanged.
func TestParseServerURLs(t *testing.T) {
	tests := []struct {
		url                        string
		driver, net, addr, db, usr string
	}{
		{"mysql+pymysql://app:hunter2@localhost/shop", "mysql", "tcp", "localhost:3306", "shop", "app"},
		{"mysql://app:hunter2@db.internal:3307/shop?charset=utf8mb4", "mysql", "tcp", "db.internal:3307", "shop", "app"},
		{"mariadb://app:hunter2@127.0.0.1/shop", "mysql", "tcp", "127.0.0.1:3306", "shop", "app"},
		{"mariadb+mariadbconnector://app:hunter2@[::1]/shop", "mysql", "tcp", "[::1]:3306", "shop", "app"},
		{"mysql+pymysql://app:hunter2@/shop?unix_socket=/run/mysqld/mysqld.sock", "mysql", "unix", "/run/mysqld/mysqld.sock", "shop", "app"},
		{"mysql+pymysql://app:p%40ss%2Fword@localhost/shop", "mysql", "tcp", "localhost:3306", "shop", "app"},
		{"postgresql+psycopg://app:hunter2@localhost/shop", "postgres", "", "localhost:5432", "shop", "app"},
		{"postgresql://app:hunter2@db.internal:5433/shop?sslmode=disable", "postgres", "", "db.internal:5433", "shop", "app"},
		{"postgres://app:hunter2@127.0.0.1/shop", "postgres", "", "127.0.0.1:5432", "shop", "app"},
		{"postgresql+asyncpg://app:hunter2@localhost/shop", "postgres", "", "localhost:5432", "shop", "app"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := parseDBURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if got.driver != tt.driver || strings.Contains(got.name, "hunter2") || !strings.Contains(got.name, tt.db) {
				t.Fatalf("= %+v", got)
			}
			switch tt.driver {
			case "mysql":
				c := got.mysql
				if c.Net != tt.net || c.Addr != tt.addr || c.DBName != tt.db || c.User != tt.usr || !c.InterpolateParams || !c.ClientFoundRows {
					t.Errorf("mysql config %+v", c)
				}
				if strings.Contains(tt.url, "p%40ss") && c.Passwd != "p@ss/word" {
					t.Errorf("password %q not decoded", c.Passwd)
				}
			case "postgres":
				c := got.pg
				addr := net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
				if addr != tt.addr || c.Database != tt.db || c.User != tt.usr || c.Password != "hunter2" {
					t.Errorf("pg config %s@%s/%s", c.User, addr, c.Database)
				}
			}
		})
	}
	for _, bad := range []string{
		"mysql://app:hunter2@localhost", "mysql://app:hunter2@localhost/", "mysql://:hunter2@localhost/db",
		"mysql:app:hunter2@localhost/db", "postgresql://app:hunter2@localhost/a/b",
		"postgresql://app:hunter2@localhost/db?sslmode=bogus", "mysql://app:hunter2@localhost/db?ssl_ca=/nonexistent",
	} {
		if got, err := parseDBURL(bad); err == nil {
			t.Errorf("%s accepted: %+v", bad, got)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error leaks the password: %v", bad, err)
		}
	}
}
