package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

const (
	benchUser     = "bench"
	benchPassword = "bench password, long enough"
	benchSecret   = "authbench-secret-0123456789abcdef0123456789abcdef"
)

// target is a database for one server run.
type target struct {
	dbURL   string
	where   string // for the report: the file system of a SQLite file
	cleanup func()
}

// newSQLiteTarget puts the database under /var/tmp, on the disk like
// /var/lib/myapp on a host, not on a tmpfs /tmp where syncs cost nothing.
func newSQLiteTarget() (*target, error) {
	dir, err := os.MkdirTemp("/var/tmp", "authbench-db-")
	if err != nil {
		return nil, err
	}
	return &target{dbURL: "sqlite:///" + filepath.Join(dir, "app.db"), where: fsType(dir),
		cleanup: func() { os.RemoveAll(dir) }}, nil
}

// newServerTarget makes a fresh PostgreSQL schema or MySQL database next to
// the one base names, so a run starts empty and leaves nothing behind.
func newServerTarget(ctx context.Context, base string) (*target, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, errors.New("malformed database URL")
	}
	b := make([]byte, 4)
	rand.Read(b)
	suffix := "_bench_" + hex.EncodeToString(b)
	pw, _ := u.User.Password()
	var db *sql.DB
	var create, drop string
	if strings.HasPrefix(u.Scheme, "postgres") {
		pg := *u
		pg.Scheme = "postgres"
		if db, err = sql.Open("pgx", pg.String()); err != nil {
			return nil, err
		}
		schema := "s" + suffix
		create, drop = "CREATE SCHEMA "+schema, "DROP SCHEMA "+schema+" CASCADE"
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
	} else {
		c := mysql.NewConfig()
		c.User, c.Passwd, c.Net, c.Addr = u.User.Username(), pw, "tcp", u.Host
		c.DBName = strings.TrimPrefix(u.Path, "/")
		conn, err := mysql.NewConnector(c)
		if err != nil {
			return nil, err
		}
		db = sql.OpenDB(conn)
		name := c.DBName + suffix
		create, drop = "CREATE DATABASE "+name, "DROP DATABASE "+name
		u.Path = "/" + name
	}
	if _, err := db.ExecContext(ctx, create); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", create, err)
	}
	return &target{dbURL: u.String(), where: u.Host, cleanup: func() {
		db.Exec(drop)
		db.Close()
	}}, nil
}

// proc is a server process under test: `myapp auth serve` or the bare
// baseline.
type proc struct {
	name string
	pid  int
	base string // http://addr
	stop func()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServe writes a project (myapp.toml, .env), adds the bench user and
// starts `myapp auth serve` on cpus (empty: all) with its log (the access
// log included) in a file, as journald would take it.
func startServe(ctx context.Context, c config, dbURL, cpus string) (p *proc, err error) {
	dir, err := os.MkdirTemp("", "authbench-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "myapp.toml")
	cfg := fmt.Sprintf("app = \"bench\"\ndomains = [\"bench.example.com\"]\n[auth]\nlisten = %q\n", addr)
	env := "SECRET_KEY=" + benchSecret + "\nDB_URL=" + dbURL + "\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600); err != nil {
		return nil, err
	}
	add := command("", c.myapp, "auth", "user", "add", benchUser, "--password-stdin", "--config", cfgPath)
	add.Stdin = strings.NewReader(benchPassword + "\n")
	add.Env = cleanEnv()
	if out, err := add.CombinedOutput(); err != nil && !strings.Contains(string(out), "already exists") {
		return nil, fmt.Errorf("add bench user: %v: %s", err, out)
	}
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	cmd := command(cpus, c.myapp, "auth", "serve", "--config", cfgPath)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logFile.Close() }()
	p = &proc{name: "myapp auth serve", pid: cmd.Process.Pid, base: "http://" + addr}
	p.stop = func() {
		cmd.Process.Signal(os.Interrupt) // a graceful stop, as systemd's SIGTERM
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	}
	if err := waitHealthy(ctx, p.base+"/healthz", done); err != nil {
		log, _ := os.ReadFile(logFile.Name())
		p.stop()
		return nil, fmt.Errorf("auth serve did not start: %w\n%s", err, log)
	}
	return p, nil
}

// cleanEnv runs the server as its systemd unit would: SECRET_KEY and
// DB_URL from the bench project's .env, not from the caller, and the Go
// runtime as myapp tunes it, not as the caller's GOGC, GOMEMLIMIT,
// GOMAXPROCS or GODEBUG would.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "SECRET_KEY", "SECRET_KEY_PREVIOUS", "DB_URL", "GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// startBare starts this program as the bare baseline server on cpus,
// answering every request with the given headers and body, and returns it.
// It gets the garbage collector settings `auth serve` gives itself
// (cmd/auth.go tuneGC), so the comparison is of the handlers alone.
func startBare(ctx context.Context, cpus string, header http.Header, body []byte) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	spec, err := encodeBare(header, body)
	if err != nil {
		return nil, err
	}
	cmd := command(cpus, self, "-bare", addr)
	cmd.Env = append(cleanEnv(), bareEnv+"="+spec, "GOGC=400", "GOMEMLIMIT=160MiB")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	p := &proc{name: "bare net/http", pid: cmd.Process.Pid, base: "http://" + addr}
	p.stop = func() { cmd.Process.Kill(); <-done }
	if err := waitHealthy(ctx, p.base+"/", done); err != nil {
		p.stop()
		return nil, fmt.Errorf("bare server did not start: %w", err)
	}
	return p, nil
}

func waitHealthy(ctx context.Context, u string, done chan error) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("no healthy answer in 30 s")
}
