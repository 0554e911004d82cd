package authserver

import (
	"errors"
	"fmt"
	"net"
	"net/url"
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
	// Passwords as SQLAlchemy reads them: up to the first "@" after the
	// user's ":", percent-decoded; "/", "?", "#" and ":" need no escape.
	for raw, want := range map[string]string{
		"mysql+pymysql://app:pa/ss?w#rd:x@localhost/shop?charset=utf8mb4": "pa/ss?w#rd:x",
		"mysql://app:p%40ss%2Fword@localhost/shop":                        "p@ss/word",
		"mysql://app:100%@localhost/shop":                                 "100%",
		"mysql://app:a+b@localhost/shop":                                  "a+b",
		"mysql://app:@localhost/shop":                                     "",
		"mysql://app@localhost/shop":                                      "",
		"postgresql+psycopg://app:pa/ss?w#rd:x@localhost/shop":            "pa/ss?w#rd:x",
		"postgresql://app:p%40ss@localhost:5433/shop?sslmode=disable":     "p@ss",
	} {
		got, err := parseDBURL(raw)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		pw, db := "", ""
		if got.mysql != nil {
			pw, db = got.mysql.Passwd, got.mysql.DBName
		} else {
			pw, db = got.pg.Password, got.pg.Database
		}
		if pw != want || db != "shop" {
			t.Errorf("%s: password %q database %q, want %q and shop", raw, pw, db, want)
		}
		if want != "" && strings.Contains(got.name, want) {
			t.Errorf("%s: name %q shows the password", raw, got.name)
		}
	}
	if _, err := parseDBURL("mysql://app:p@ss@localhost/shop"); err == nil || !strings.Contains(err.Error(), "%40") {
		t.Errorf("password with a bare @: %v, want a hint to write %%40", err)
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

// No DB_URL error shows the password, in any encoding, whichever part of
// the URL is wrong or whatever fails after it is parsed; mistakes in the
// URL match ErrInvalidDBURL, failures to reach the database do not.
func TestDBURLErrorsNeverShowThePassword(t *testing.T) {
	tests := []struct {
		url, pw string
		invalid bool // a mistake in the URL, not in reaching the database
	}{
		{"sqlite://user:pw@host/app.db", "pw", true},
		{"sqlite://user:s3cret-Pw@host", "s3cret-Pw", true},
		{"sqlite://user:s3cret-Pw@/app.db", "s3cret-Pw", true},
		{"sqlite+pysqlite://user:s3cret%2FPw@localhost/app.db", "s3cret/Pw", true},
		{"sqlite:user:s3cret-Pw@host/app.db", "s3cret-Pw", true},
		{"sqlite:///user:s3cret-Pw@host/app.db", "s3cret-Pw", true},
		{"sqlite:///user:s3cret/Pw@host/app.db", "s3cret/Pw", true},
		{"sqlite:/nonexistent-dir/user:s3cret-Pw@host/app.db", "", false}, // a file name, not a password
		{"mysql://app:s3cret-Pw@localhost", "s3cret-Pw", true},
		{"mysql://app:s3cret-Pw@localhost/a/b", "s3cret-Pw", true},
		{"mysql://app:s3cret Pw@local host/db", "s3cret Pw", true},
		{"mysql://app:s3cret-Pw@localhost:port/db", "s3cret-Pw", true},
		{"mysql://app:s3cret%zzPw@[::1/db", "s3cret%zzPw", true},
		{"mysql:app:s3cret-Pw@localhost/db", "s3cret-Pw", true},
		{"mysql://app:s3c@ret-Pw@localhost/db", "s3c", true},
		{"mysql://app:s3cret-Pw@localhost/db?ssl_ca=/nonexistent/ca.pem", "s3cret-Pw", true},
		{"mysql+pymysql://app:s3cret%2F%3APw@127.0.0.1:1/db", "s3cret/:Pw", false},
		{"postgresql://app:s3cret-Pw@localhost/db?sslmode=bogus", "s3cret-Pw", true},
		{"postgresql://app:s3cr%20et-Pw@localhost/db?connect_timeout=x", "s3cr et-Pw", true},
		{"postgresql+psycopg://app:s3cret/Pw@localhost:99999/db", "s3cret/Pw", true},
		{"postgresql+psycopg://app:s3cret/Pw@127.0.0.1:1/db?connect_timeout=2", "s3cret/Pw", false},
		{"mongodb://app:s3cret-Pw@localhost/db", "s3cret-Pw", true},
		{"app:s3cret-Pw@localhost/db", "s3cret-Pw", true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := OpenStore(t.Context(), tt.url)
			if err == nil {
				t.Fatal("OpenStore succeeded")
			}
			if errors.Is(err, ErrInvalidDBURL) != tt.invalid {
				t.Errorf("errors.Is(%v, ErrInvalidDBURL) = %v, want %v", err, !tt.invalid, tt.invalid)
			}
			msg := err.Error()
			if tt.pw == "" {
				return
			}
			for _, form := range []string{tt.pw, url.QueryEscape(tt.pw), url.PathEscape(tt.pw), "user:" + tt.pw, "app:" + tt.pw} {
				if strings.Contains(msg, form) {
					t.Fatalf("error shows the password as %q: %s", form, msg)
				}
			}
			if strings.Contains(msg, "\n") && !strings.Contains(msg, "failed to connect") {
				t.Errorf("multi-line error: %q", msg)
			}
		})
	}
}

func TestRedactError(t *testing.T) {
	base := fmt.Errorf("dial: %w", os.ErrNotExist)
	err := RedactError(fmt.Errorf("open mysql://app:hunter2@db/x and again hunter%%32: %w", base), "mysql://app:hunter%32@db/x")
	if strings.Contains(err.Error(), "hunter") || !strings.Contains(err.Error(), "app:xxxxx@db") {
		t.Errorf("RedactError = %q", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Error("RedactError lost the wrapped error")
	}
	if RedactError(nil, "mysql://a:b@c/d") != nil {
		t.Error("RedactError(nil) != nil")
	}
	if e := RedactError(base, "sqlite:////var/lib/app.db"); e != base {
		t.Error("RedactError changed an error with nothing to redact")
	}
	// A short password is redacted where it stands as the password, not
	// inside the words around it.
	for _, tc := range []struct{ url, msg, want string }{
		{"postgres://u:p@127.0.0.1:1/db", "open database postgresql://u:p@127.0.0.1:1/db: dial tcp 127.0.0.1:1: connect: connection refused",
			"open database postgresql://u:xxxxx@127.0.0.1:1/db: dial tcp 127.0.0.1:1: connect: connection refused"},
		{"mysql://u:pass@db/x", "user=u password=pass host=db: password authentication failed",
			"user=u password=xxxxx host=db: password authentication failed"},
		{"mysql://u:p%40ss@db/x", "connect u:p@ss@db: p@ss refused", "connect u:xxxxx@db: xxxxx refused"},
		{"mysql://u:%D0%BF@db/x", "user u: пароль п wrong", "user u: пароль xxxxx wrong"},
	} {
		if got := RedactError(errors.New(tc.msg), tc.url).Error(); got != tc.want {
			t.Errorf("RedactError(%q, %q)\n got %q\nwant %q", tc.msg, tc.url, got, tc.want)
		}
	}
}
