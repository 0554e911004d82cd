package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/internal/testenv"
)

// The app under test, as the contract names it.
const (
	app      = "shop"
	domain   = "shop.test"
	domain2  = "www.shop.test"
	hostName = "web1"
)

// touchedPaths are every place on the host that myapp writes to (DESIGN.md
// "On the host"); a command that must change nothing leaves them identical.
var touchedPaths = []string{"/etc/nginx", "/etc/myapp", "/var/www", "/var/lib/myapp", "/etc/systemd/system", "/usr/local/bin"}

// env is one booted host with Pebble and the stub backend around it.
type env struct {
	repo     string
	bin      string // the myapp binary built from the repository
	dir      string // scratch: configs, logs
	host     *testenv.Machine
	pebble   *testenv.Pebble
	roots    *x509.CertPool // Pebble's issuing root
	frontend string
}

// newEnv builds the CLI, takes the machine lock, starts the stub backend
// and Pebble, and boots a fresh host "web1" that resolves the app's domains
// to itself. Everything is stopped when t ends; the host's diagnostics and
// Pebble's log are printed first when t failed.
func newEnv(t *testing.T, ctx context.Context) *env {
	t.Helper()
	repo, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{repo: repo, dir: t.TempDir(), frontend: filepath.Join(repo, "testdata", "frontend")}
	e.bin = buildCLI(t, repo, t.TempDir())

	unlock, err := testenv.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)

	stub, err := testenv.StubBackend(ctx, "127.0.0.1:8000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stub.Close() })
	pebbleDir := filepath.Join(e.dir, "pebble")
	e.pebble, err = testenv.StartPebble(ctx, pebbleDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.pebble.Stop() })
	if e.roots, err = e.pebble.RootPool(ctx); err != nil {
		t.Fatal(err)
	}
	e.host, err = testenv.BootHost(ctx, testenv.HostOptions{Name: "web1", Hosts: []string{domain, domain2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
			defer dcancel()
			t.Logf("host diagnostics:\n%s", e.host.Diagnose(dctx, "nginx.service", app+"-auth.service", app+"-renew.service", "ssh.service"))
			for _, f := range []string{"pebble.log", "challtestsrv.log"} {
				b, _ := os.ReadFile(filepath.Join(pebbleDir, f))
				t.Logf("%s (tail):\n%s", f, lastLines(string(b), 40))
			}
		}
		if err := e.host.Stop(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// config is the myapp.toml for the booted host and Pebble.
func (e *env) config() testenv.AppConfig {
	return testenv.NewAppConfig(e.host, e.pebble, e.frontend)
}

// writeConfig writes c as name in the scratch directory and returns its path.
func (e *env) writeConfig(t *testing.T, name string, c testenv.AppConfig) string {
	t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(c.TOML()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// result is one run of the CLI.
type result struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("myapp %s\nexit %d\n--- stdout\n%s\n--- stderr\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// myapp runs the CLI on this machine (the "laptop"), bounded by 15 minutes.
func (e *env) myapp(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Dir = e.dir
	cmd.Env = cliEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("run myapp %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("myapp %s timed out\n%s", strings.Join(args, " "), r)
	}
	return r
}

// cliEnv is this process's environment without what could make the CLI
// reach for something other than the config: an ssh-agent, MYAPP_*
// overrides, colours.
func cliEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SSH_AUTH_SOCK=") || strings.HasPrefix(kv, "MYAPP_") {
			continue
		}
		out = append(out, kv)
	}
	// The test domains resolve only in Pebble's DNS, as they would in public
	// DNS for a real site: the preflight check before each order uses it.
	return append(out, "NO_COLOR=1", "MYAPP_DNS_RESOLVER="+testenv.PebbleDNS)
}

// report is `--output json` of init.
type report struct {
	Command string       `json:"command"`
	Hosts   []hostReport `json:"hosts"`
}

type hostReport struct {
	Host  string `json:"host"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Steps []struct {
		Step   string `json:"step"`
		Status string `json:"status"`
		Detail string `json:"detail"`
	} `json:"steps"`
	Summary struct {
		Changed   int `json:"changed"`
		Unchanged int `json:"unchanged"`
		Skipped   int `json:"skipped"`
		Failed    int `json:"failed"`
	} `json:"summary"`
}

// parseReport decodes the JSON report of r and returns the one for web1.
func parseReport(t *testing.T, r result) hostReport {
	t.Helper()
	var rep report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, r)
	}
	if rep.Command != "init" || len(rep.Hosts) != 1 || rep.Hosts[0].Host != hostName {
		t.Fatalf("report: command %q, hosts %+v; want init with one host %q\n%s", rep.Command, rep.Hosts, hostName, r)
	}
	return rep.Hosts[0]
}

// client is an HTTP client that resolves every name the way the test DNS
// does (to 127.0.0.1, where the host's nginx listens), trusts only Pebble's
// issuing root, and does not follow redirects.
func (e *env) client() *http.Client {
	resolver := e.pebble.Resolver()
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				h, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				ips, err := resolver.LookupHost(ctx, h)
				if err != nil {
					return nil, err
				}
				return dialer.DialContext(ctx, "tcp4", net.JoinHostPort(ips[0], port))
			},
			TLSClientConfig:   &tls.Config{RootCAs: e.roots},
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// snapshot checksums touchedPaths in the host's rootfs.
func (e *env) snapshot(t *testing.T) testenv.Snapshot {
	t.Helper()
	s, err := testenv.TakeSnapshot(e.host.Root, touchedPaths...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertUnchanged fails when the host's touched paths differ from before.
func (e *env) assertUnchanged(t *testing.T, before testenv.Snapshot, what string) {
	t.Helper()
	if d := before.Diff(e.snapshot(t)); len(d) > 0 {
		t.Errorf("%s changed the host:\n  %s", what, strings.Join(d, "\n  "))
	}
}

// buildCLI builds myapp from the repository root (CGO off, like a release),
// or returns MYAPP_E2E_BIN when set (to test a release binary).
func buildCLI(t *testing.T, repo, out string) string {
	t.Helper()
	if bin := os.Getenv("MYAPP_E2E_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	if _, err := os.Stat(filepath.Join(repo, "main.go")); err != nil && os.Getenv("CI") != "true" {
		t.Skip("no main.go at the repository root yet: the CLI does not exist")
	}
	bin := filepath.Join(out, "myapp")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build myapp: %v\n%s", err, b)
	}
	return bin
}
