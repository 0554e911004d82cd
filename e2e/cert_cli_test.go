package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/internal/testenv"
)

// The certificate files and state of the app on the host (DESIGN.md, issue 3).
const (
	hostCertDir   = "/etc/myapp/" + app + "/certs"
	hostFullchain = hostCertDir + "/" + domain + "/fullchain.pem"
	hostCertState = "/var/lib/myapp/acme/state/" + app + ".json"
	hostWebroot   = "/var/www/" + app + "/acme"
)

// renewedCert is one certificate in `cert renew --output json`.
type renewedCert struct {
	Name        string    `json:"name"`
	Domains     []string  `json:"domains"`
	Status      string    `json:"status"` // renewed | not_due | failed
	Reason      string    `json:"reason"`
	Serial      string    `json:"serial"`
	NotAfter    time.Time `json:"not_after"`
	RenewAt     time.Time `json:"renew_at"`
	NextAttempt time.Time `json:"next_attempt"`
	HookError   string    `json:"hook_error"`
}

// certStatus is one certificate in `cert status --output json`.
type certStatus struct {
	Name        string    `json:"name"`
	Installed   bool      `json:"installed"`
	Domains     []string  `json:"domains"`
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"`
	NotAfter    time.Time `json:"not_after"`
	Due         bool      `json:"due"`
	NextRenewal time.Time `json:"next_renewal"`
	Detail      string    `json:"detail"`
	ARIWindow   []string  `json:"ari_window"`
	LastResult  string    `json:"last_result"`
	LastAttempt time.Time `json:"last_attempt"`
	LastError   string    `json:"last_error"`
	NextAttempt time.Time `json:"next_attempt"`
}

// onHost runs the installed myapp on the host as the renewal timer does
// (root, the config found at /etc/myapp/<app>/myapp.toml), with env
// ("KEY=value") added to its environment, bounded by 5 minutes.
func (e *env) onHost(t *testing.T, ctx context.Context, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	argv := append([]string{"env", "NO_COLOR=1"}, env...)
	argv = append(append(argv, "/usr/local/bin/myapp"), args...)
	r, err := e.host.Exec(ctx, nil, argv...)
	if err != nil {
		t.Fatalf("on the host: %v", err)
	}
	return result{args: args, code: r.Code, stdout: r.Stdout, stderr: r.Stderr}
}

// renew runs `myapp cert renew ARGS --output json` on the host and returns
// the run and its one certificate.
func (e *env) renew(t *testing.T, ctx context.Context, env []string, args ...string) (result, renewedCert) {
	t.Helper()
	r := e.onHost(t, ctx, env, append(append([]string{"cert", "renew"}, args...), "--output", "json")...)
	return r, parseRenew(t, r)
}

func parseRenew(t *testing.T, r result) renewedCert {
	t.Helper()
	var out struct {
		Certificates []renewedCert `json:"certificates"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Certificates) != 1 {
		t.Fatalf("stdout is not cert renew's JSON with one certificate (%v)\n%s", err, r)
	}
	return out.Certificates[0]
}

// status runs `myapp cert status --output json` on the host.
func (e *env) status(t *testing.T, ctx context.Context) certStatus {
	t.Helper()
	r := e.onHost(t, ctx, nil, "cert", "status", "--output", "json")
	var out struct {
		Certificates []certStatus `json:"certificates"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Certificates) != 1 || r.code != 0 {
		t.Fatalf("cert status: want exit 0 and JSON with one certificate (%v)\n%s", err, r)
	}
	return out.Certificates[0]
}

// installedPEM is the installed fullchain.pem, read through the symlink.
func (e *env) installedPEM(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(e.host.Path(hostFullchain))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// servedSerial is the serial of the certificate nginx serves for shop.test,
// as myapp prints serials (lowercase hex).
func servedSerial(t *testing.T, e *env) string {
	t.Helper()
	return serialOf(servedCert(t, e))
}

func serialOf(c *x509.Certificate) string { return fmt.Sprintf("%x", c.SerialNumber) }

// readHostFile and writeHostFile read and replace a file of the host.
func (e *env) readHostFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(e.host.Path(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (e *env) writeHostFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(e.host.Path(p), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// orders and requests count what reached Pebble so far.
func (e *env) orders(t *testing.T) int {
	t.Helper()
	n, err := e.pebble.Orders()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) requests(t *testing.T) int {
	t.Helper()
	n, err := e.pebble.Requests()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// certSnapshot checksums the certificate files and the nginx config.
func (e *env) certSnapshot(t *testing.T) testenv.Snapshot {
	t.Helper()
	s, err := testenv.TakeSnapshot(e.host.Root, hostCertDir, "/etc/nginx")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertSame fails when after differs from before.
func assertSame(t *testing.T, before, after testenv.Snapshot, what string) {
	t.Helper()
	if d := before.Diff(after); len(d) > 0 {
		t.Errorf("%s changed:\n  %s", what, strings.Join(d, "\n  "))
	}
}

// near reports whether a and b are within tol of each other.
func near(a, b time.Time, tol time.Duration) bool {
	d := a.Sub(b)
	return d <= tol && d >= -tol
}
