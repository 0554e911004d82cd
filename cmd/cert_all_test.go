package cmd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/myapp/myapp/internal/flock"
	"github.com/myapp/myapp/internal/statcache"
	"github.com/myapp/myapp/provision"
	"github.com/myapp/myapp/provision/host"
)

// testHost is a host's /etc/myapp, /var/lib/myapp, ... under a temporary
// directory (hostRoot), with a fake ACME CA that counts every request: a
// not-due renewal must not reach it.
type testHost struct {
	t        *testing.T
	root     string
	ca       *httptest.Server
	caRoots  string // PEM of the fake CA's TLS certificate
	requests atomic.Int32
}

func newTestHost(t *testing.T) *testHost {
	t.Helper()
	h := &testHost{t: t, root: t.TempDir()}
	old := hostRoot
	hostRoot = h.root
	t.Cleanup(func() { hostRoot = old })
	// A directory without renewalInfo: a CA that is asked answers at once
	// (the app is then decided from the lifetime alone).
	h.ca = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.requests.Add(1)
		if r.URL.Path != "/dir" {
			http.NotFound(w, r)
			return
		}
		u := "https://" + r.Host
		fmt.Fprintf(w, `{"newNonce":%q,"newAccount":%q,"newOrder":%q,"revokeCert":%q,"keyChange":%q}`,
			u+"/nonce", u+"/acct", u+"/order", u+"/revoke", u+"/key")
	}))
	t.Cleanup(h.ca.Close)
	h.caRoots = filepath.Join(t.TempDir(), "ca.pem")
	h.write(h.caRoots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.ca.Certificate().Raw}), 0o644)
	h.mkdir("/etc/myapp")
	return h
}

func (h *testHost) write(p string, data []byte, mode os.FileMode) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		h.t.Fatal(err)
	}
}

func (h *testHost) mkdir(p string) {
	h.t.Helper()
	if err := os.MkdirAll(h.root+p, 0o755); err != nil {
		h.t.Fatal(err)
	}
}

// config is /etc/myapp/<dir>/myapp.toml for app with domain <app>.test,
// issued by the fake CA.
func (h *testHost) config(dir, app string, extra string) string {
	p := h.root + "/etc/myapp/" + dir + "/myapp.toml"
	h.write(p, []byte(fmt.Sprintf("app = %q\ndomains = [%q]\n%s\n[acme]\nemail = \"ops@example.com\"\ndirectory = %q\nca_roots = %q\n",
		app, app+".test", extra, h.ca.URL+"/dir", h.caRoots)), 0o644)
	return p
}

// cert installs a self-signed certificate for app's domain, valid from
// notBefore to notAfter, in the layout InstallCert leaves, and returns its
// serial as the state files write it.
func (h *testHost) cert(app string, notBefore, notAfter time.Time) string {
	h.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	domain := app + ".test"
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		h.t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		h.t.Fatal(err)
	}
	p := provision.PathsUnder(h.root, app, domain)
	version := "20250101T000000Z-test"
	h.write(p.CertArchive+"/"+version+"/fullchain.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	h.write(p.CertArchive+"/"+version+"/privkey.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	if err := os.Symlink(".archive/"+domain+"/"+version, p.CertDir); err != nil {
		h.t.Fatal(err)
	}
	return fmt.Sprintf("%x", serial)
}

// state saves app's renewal state as cert renew would have left it.
func (h *testHost) state(app string, st provision.CertState) {
	h.t.Helper()
	if err := st.Save(context.Background(), host.NewLocal(), provision.PathsUnder(h.root, app, app+".test")); err != nil {
		h.t.Fatal(err)
	}
}

// notDue installs app with a 90-day certificate issued yesterday and the
// CA's renewal window a previous run stored: decided without the CA.
func (h *testHost) notDue(app string) {
	h.t.Helper()
	h.config(app, app, "")
	now := time.Now()
	serial := h.cert(app, now.Add(-24*time.Hour), now.Add(89*24*time.Hour))
	start := now.Add(58 * 24 * time.Hour)
	h.state(app, provision.CertState{Serial: serial, ARIStart: start, ARIEnd: start.Add(48 * time.Hour),
		RenewAt: start.Add(time.Hour), ARINextPoll: now.Add(6 * time.Hour)})
}

// backingOff installs app with a due certificate and a failure that says
// wait: renew fails without contacting the CA.
func (h *testHost) backingOff(app string) {
	h.t.Helper()
	h.config(app, app, "")
	now := time.Now()
	h.cert(app, now.Add(-80*24*time.Hour), now.Add(5*24*time.Hour))
	h.state(app, provision.CertState{LastAttempt: now.Add(-time.Minute), LastResult: "failed",
		LastError: "connection refused", Failures: 1, NextAttempt: now.Add(30 * time.Minute)})
}

// run runs myapp in-process.
func (h *testHost) run(args ...string) (code int, stdout, stderr string) {
	h.t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb, "test")
	return code, out.String(), errb.String()
}

// renewJSON is `cert renew --output json` as a script reads it.
type renewJSON struct {
	Certificates []struct {
		App     string   `json:"app"`
		Config  string   `json:"config"`
		Name    string   `json:"name"`
		Domains []string `json:"domains"`
		Status  string   `json:"status"`
		Reason  string   `json:"reason"`
		Serial  string   `json:"serial"`
	} `json:"certificates"`
}

func decodeRenew(t *testing.T, stdout string) renewJSON {
	t.Helper()
	var r renewJSON
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil || len(raw) != 1 {
		t.Fatalf("stdout is not one JSON object {certificates}: %v\n%s", err, stdout)
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("decode %s: %v", stdout, err)
	}
	return r
}

// lines are the non-empty lines of s.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestCertRenewAllNotDue: every app of the host gets one line saying it is
// not due, nothing is contacted, and what is not an app is skipped.
func TestCertRenewAllNotDue(t *testing.T) {
	h := newTestHost(t)
	for _, app := range []string{"gamma", "alpha", "beta"} {
		h.notDue(app)
	}
	// Not apps: the local CA, a directory without myapp.toml, a file, a
	// hidden directory (an editor's or admin's backup).
	h.write(h.root+"/etc/myapp/local-ca/root.pem", []byte("not read"), 0o644)
	h.mkdir("/etc/myapp/notes")
	h.write(h.root+"/etc/myapp/README", []byte("hello"), 0o644)
	h.write(h.root+"/etc/myapp/.old/myapp.toml", []byte("bogus = 1\n"), 0o644)
	h.write(h.root+"/etc/myapp/x\nalpha.test: renewed/myapp.toml", []byte("bogus = 1\n"), 0o644) // forging a line

	code, stdout, stderr := h.run("cert", "renew", "--all")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("text mode wrote to stdout: %q", stdout)
	}
	got := lines(stderr)
	if len(got) != 3 {
		t.Fatalf("want one line per app (3), got:\n%s", stderr)
	}
	for i, app := range []string{"alpha", "beta", "gamma"} {
		if !strings.HasPrefix(got[i], app+".test: not due: renewal from ") || !strings.Contains(got[i], "inside the CA's renewal window") {
			t.Errorf("line %d: %q, want %s.test: not due: ... (sorted by app)", i, got[i], app)
		}
	}
	if n := h.requests.Load(); n != 0 {
		t.Errorf("the CA got %d requests for not-due certificates, want 0", n)
	}
	code, stdout, stderr = h.run("cert", "renew", "--all", "--output", "json")
	if code != 0 {
		t.Fatalf("--output json: exit %d, want 0\n%s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("--output json wrote to stderr: %q", stderr)
	}
	r := decodeRenew(t, stdout)
	if len(r.Certificates) != 3 {
		t.Fatalf("want 3 certificates, got %s", stdout)
	}
	for i, app := range []string{"alpha", "beta", "gamma"} {
		c := r.Certificates[i]
		if c.App != app || c.Config != h.root+"/etc/myapp/"+app+"/myapp.toml" || c.Name != app+".test" ||
			len(c.Domains) != 1 || c.Status != provision.StatusNotDue || !strings.HasPrefix(c.Reason, "not due: ") || c.Serial == "" {
			t.Errorf("certificate %d: %+v", i, c)
		}
	}
	if n := h.requests.Load(); n != 0 {
		t.Errorf("the CA got %d requests, want 0", n)
	}
}

// TestCertRenewAllAsksCAWithoutWindow proves the fake CA above sees what
// renew sends: without a stored window a not-due app asks the CA once,
// and the next run decides locally.
func TestCertRenewAllAsksCAWithoutWindow(t *testing.T) {
	h := newTestHost(t)
	h.config("alpha", "alpha", "")
	now := time.Now()
	h.cert("alpha", now.Add(-24*time.Hour), now.Add(89*24*time.Hour))
	code, _, stderr := h.run("cert", "renew", "--all")
	if code != 0 || !strings.HasPrefix(stderr, "alpha.test: not due: ") || strings.Contains(stderr, "warning") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if h.requests.Load() == 0 {
		t.Fatal("no request reached the fake CA: the zero-request checks would prove nothing")
	}
	if _, err := os.Stat(h.root + "/var/lib/myapp/acme/locks/alpha.lock"); err != nil {
		t.Errorf("asking the CA without the app's lock under the host root: %v", err)
	}
	before := h.requests.Load()
	if code, _, stderr := h.run("cert", "renew", "--all"); code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, stderr)
	}
	if n := h.requests.Load() - before; n != 0 {
		t.Errorf("second run sent %d requests; the CA's answer (no renewal info) should have been stored", n)
	}
}

// TestCertRenewAllExitCodes: a broken app is reported, naming its file and
// line, and the others are still handled; the exit code says how many
// failed and whether only config mistakes did.
func TestCertRenewAllExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *testHost)
		code  int
		want  map[string]string // app -> status in JSON
	}{
		{"one broken config among good apps", func(h *testHost) {
			h.notDue("alpha")
			h.config("beta", "beta", "bogus = 1")
			h.notDue("gamma")
		}, 3, map[string]string{"alpha": "not_due", "beta": "failed", "gamma": "not_due"}},
		{"one backing off among good apps", func(h *testHost) {
			h.notDue("alpha")
			h.backingOff("beta")
		}, 3, map[string]string{"alpha": "not_due", "beta": "failed"}},
		{"all failed", func(h *testHost) {
			h.backingOff("alpha")
			h.backingOff("beta")
		}, 1, map[string]string{"alpha": "failed", "beta": "failed"}},
		{"all failed, only config mistakes", func(h *testHost) {
			h.config("alpha", "alpha", "bogus = 1")
			h.config("beta", "other", "")
		}, 2, map[string]string{"alpha": "failed", "beta": "failed"}},
		{"all failed, a config mistake first", func(h *testHost) {
			h.config("alpha", "alpha", "bogus = 1")
			h.backingOff("beta")
		}, 1, map[string]string{"alpha": "failed", "beta": "failed"}},
		{"the only app has a config mistake", func(h *testHost) {
			h.config("alpha", "alpha", "bogus = 1")
		}, 2, map[string]string{"alpha": "failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHost(t)
			tc.setup(h)
			code, _, stderr := h.run("cert", "renew", "--all")
			if code != tc.code {
				t.Errorf("text: exit %d, want %d\n%s", code, tc.code, stderr)
			}
			for app, status := range tc.want {
				if strings.Count(stderr, app+".test: "+strings.ReplaceAll(status, "_", " "))+strings.Count(stderr, app+": "+status) == 0 {
					t.Errorf("no %s line for %s in\n%s", status, app, stderr)
				}
			}
			code, stdout, _ := h.run("cert", "renew", "--all", "--output", "json")
			if code != tc.code {
				t.Errorf("json: exit %d, want %d", code, tc.code)
			}
			r := decodeRenew(t, stdout)
			if len(r.Certificates) != len(tc.want) {
				t.Fatalf("want %d entries, got %s", len(tc.want), stdout)
			}
			for _, c := range r.Certificates {
				if c.Status != tc.want[c.App] {
					t.Errorf("%s: status %s, want %s (%s)", c.App, c.Status, tc.want[c.App], c.Reason)
				}
			}
			if n := h.requests.Load(); n != 0 {
				t.Errorf("the CA got %d requests, want 0", n)
			}
		})
	}
}

// TestCertRenewAllConfigErrors: what a user reads for a broken or
// misplaced myapp.toml.
func TestCertRenewAllConfigErrors(t *testing.T) {
	h := newTestHost(t)
	h.notDue("alpha")
	broken := h.config("beta", "beta", "bogus = 1")
	moved := h.config("gamma", "shop", "")
	code, _, stderr := h.run("cert", "renew", "--all")
	if code != 3 {
		t.Errorf("exit %d, want 3", code)
	}
	for _, want := range []string{
		"alpha.test: not due: ",
		"beta: failed: " + broken + ":3:1: ", // file and line of the unknown key
		"bogus",
		"gamma: failed: " + moved + ":1:1: app: \"shop\", but the file is in " + h.root + "/etc/myapp/gamma/",
		"hint: init installs each app's config as /etc/myapp/<app>/myapp.toml",
		"myapp: 2 of 3 certificates failed",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	_, stdout, _ := h.run("cert", "renew", "--all", "--output", "json")
	r := decodeRenew(t, stdout)
	if len(r.Certificates) != 3 {
		t.Fatalf("want 3 entries, got %s", stdout)
	}
	b := r.Certificates[1]
	if b.App != "beta" || b.Config != broken || b.Name != "beta" || b.Status != "failed" || !strings.HasPrefix(b.Reason, broken+":3:1: ") || b.Domains == nil {
		t.Errorf("broken config's entry: %+v", b)
	}
}

// TestCertRenewAllUsage: --all acts on this host's installed configs
// only; an empty or missing /etc/myapp is nothing to do.
func TestCertRenewAllUsage(t *testing.T) {
	h := newTestHost(t)
	h.notDue("alpha")
	for _, args := range [][]string{
		{"cert", "renew", "--all", "--config", h.root + "/etc/myapp/alpha/myapp.toml"},
		{"cert", "renew", "--all", "--host", "root@203.0.113.10"},
		{"cert", "status", "--all", "--config", h.root + "/etc/myapp/alpha/myapp.toml"},
	} {
		code, stdout, stderr := h.run(args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "cannot be combined with --config") {
			t.Errorf("myapp %s: exit %d, stdout %q, stderr %q; want exit 2 and a message", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if n := h.requests.Load(); n != 0 {
		t.Errorf("the CA got %d requests, want 0", n)
	}

	for _, missing := range []bool{false, true} {
		h := newTestHost(t)
		if missing {
			os.Remove(h.root + "/etc/myapp")
		}
		for _, args := range [][]string{{"cert", "renew", "--all"}, {"cert", "status", "--all"}} {
			code, stdout, stderr := h.run(args...)
			if code != 0 || stdout != "" || !strings.HasPrefix(stderr, "no apps configured under "+h.root+"/etc/myapp") || len(lines(stderr)) != 1 {
				t.Errorf("myapp %s (missing /etc/myapp: %v): exit %d, stdout %q, stderr %q", strings.Join(args, " "), missing, code, stdout, stderr)
			}
			code, stdout, stderr = h.run(append(args, "--output", "json")...)
			if code != 0 || strings.TrimSpace(stdout) != `{
  "certificates": []
}` || stderr != "" {
				t.Errorf("myapp %s --output json: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, stdout, stderr)
			}
		}
	}
}

// TestCertRenewAllKeepsDNSCredentialsPerApp: a DNS provider's variables
// taken from one app's .env are not seen by the next app: an app without
// credentials of its own fails for it, instead of using another app's.
func TestCertRenewAllKeepsDNSCredentialsPerApp(t *testing.T) {
	unsetenv(t, "EXEC_PATH")
	h := newTestHost(t)
	hook := h.root + "/dns-hook"
	h.write(hook, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	for _, app := range []string{"alpha", "beta"} {
		// Without a stored window: renew asks the CA, so it builds the
		// issuer and its DNS provider (a not-due app with a window never
		// reads its credentials).
		h.config(app, app, "")
		now := time.Now()
		h.cert(app, now.Add(-24*time.Hour), now.Add(89*24*time.Hour))
		p := h.root + "/etc/myapp/" + app + "/myapp.toml"
		toml, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h.write(p, append(toml, "dns_provider = \"exec\"\n"...), 0o644) // the last table is [acme]
	}
	h.write(h.root+"/etc/myapp/alpha/.env", []byte("SECRET_KEY=alpha-secret\nEXEC_PATH="+hook+"\n"), 0o600)
	h.write(h.root+"/etc/myapp/beta/.env", []byte("SECRET_KEY=beta-secret\n"), 0o600)

	code, _, stderr := h.run("cert", "renew", "--all")
	got := lines(stderr)
	if code != 3 || len(got) < 2 || !strings.HasPrefix(got[0], "alpha.test: not due") ||
		!strings.HasPrefix(got[1], "beta.test: failed") || !strings.Contains(stderr, "EXEC_PATH") {
		t.Fatalf("exit %d, want 3 with alpha not due and beta failing for its missing EXEC_PATH:\n%s", code, stderr)
	}
	if v, ok := os.LookupEnv("EXEC_PATH"); ok {
		t.Errorf("EXEC_PATH=%q is left in the environment after the run", v)
	}
	if strings.Contains(stderr, "secret") {
		t.Errorf("a .env value is shown:\n%s", stderr)
	}
}

// TestCertRenewLocksOnlyWithWorkToDo: a run with nothing to do answers
// while another run holds the app's lock (it reads the installed files,
// which are only ever replaced whole); a run with work to do waits for the
// lock, says so, and gives up after --lock-wait.
func TestCertRenewLocksOnlyWithWorkToDo(t *testing.T) {
	h := newTestHost(t)
	h.notDue("alpha")
	h.backingOff("beta")
	h.mkdir("/var/lib/myapp/acme/locks")
	for _, app := range []string{"alpha", "beta"} {
		unlock, err := flock.Lock(context.Background(), h.root+"/var/lib/myapp/acme/locks/"+app+".lock", 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(unlock)
	}
	cfg := func(app string) string { return h.root + "/etc/myapp/" + app + "/myapp.toml" }

	code, _, stderr := h.run("cert", "renew", "--config", cfg("alpha"), "--lock-wait", "100ms")
	if code != 0 || !strings.HasPrefix(stderr, "alpha.test: not due: ") || strings.Contains(stderr, "in progress") {
		t.Errorf("not due, lock held elsewhere: exit %d, want 0 and not due at once\n%s", code, stderr)
	}
	code, _, stderr = h.run("cert", "renew", "--config", cfg("beta"), "--lock-wait", "100ms")
	if code != 1 || !strings.Contains(stderr, "another cert run is in progress; waiting up to 100ms") ||
		!strings.Contains(stderr, "lock is held by another process") {
		t.Errorf("due, lock held elsewhere: exit %d, want 1 after waiting for the lock\n%s", code, stderr)
	}
	if n := h.requests.Load(); n != 0 {
		t.Errorf("the CA got %d requests, want 0", n)
	}
}

// TestCertRenewAllRemembersNotDue: a second --all run answers from the
// first run's decisions while each app's files are unchanged, with the same
// output; a changed file or an override in the environment make it
// decide from the files again.
func TestCertRenewAllRemembersNotDue(t *testing.T) {
	h := newTestHost(t)
	h.notDue("alpha")
	h.notDue("beta")
	time.Sleep(statcache.Margin + 100*time.Millisecond) // only files older than the margin are trusted
	const remembered = "config, certificate, key and renewal state unchanged since an earlier run"

	code, first, stderr := h.run("cert", "renew", "--all", "--output", "json")
	if code != 0 || stderr != "" {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	if fi, err := os.Stat(renewCachePath()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the decisions were not saved (0600): %v %v", fi, err)
	}
	code, second, stderr := h.run("cert", "renew", "--all", "--output", "json", "-v")
	if code != 0 || second != first {
		t.Fatalf("remembered answers differ: exit %d\nfirst:  %s\nsecond: %s", code, first, second)
	}
	if strings.Count(stderr, remembered) != 2 {
		t.Fatalf("want both apps answered from the earlier run:\n%s", stderr)
	}

	// A new renewal window for alpha: its new renewal time is reported.
	now := time.Now()
	serial := decodeRenew(t, first).Certificates[0].Serial
	start := now.Add(40 * 24 * time.Hour).Truncate(time.Second).UTC()
	h.state("alpha", provision.CertState{Serial: serial, ARIStart: start, ARIEnd: start.Add(time.Hour), RenewAt: start, ARINextPoll: now.Add(6 * time.Hour)})
	code, out, stderr := h.run("cert", "renew", "--all", "-v")
	if code != 0 || strings.Count(stderr, remembered) != 1 || !strings.Contains(stderr, "beta.test: "+remembered) ||
		!strings.Contains(stderr, "alpha.test: not due: renewal from "+start.Format(time.RFC3339)) {
		t.Fatalf("after alpha's state changed: exit %d, want alpha decided again (renewal from %s)\n%s%s", code, start.Format(time.RFC3339), out, stderr)
	}

	// beta's certificate replaced by one that is due (and backing off):
	// it fails without contacting the CA, as if nothing were remembered.
	if err := os.RemoveAll(provision.PathsUnder(h.root, "beta", "beta.test").CertArchive); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(provision.PathsUnder(h.root, "beta", "beta.test").CertDir); err != nil {
		t.Fatal(err)
	}
	h.backingOff("beta")
	code, _, stderr = h.run("cert", "renew", "--all", "-v")
	if code != 3 || !strings.Contains(stderr, "beta.test: failed: not contacting the CA before") {
		t.Fatalf("after beta's certificate was replaced by a due one: exit %d, want 3 with beta failing\n%s", code, stderr)
	}

	// An override in the environment bypasses what is remembered.
	time.Sleep(statcache.Margin + 100*time.Millisecond)
	h.run("cert", "renew", "--all") // remembers alpha again
	// GODEBUG can change how a certificate parses (x509negativeserial):
	// answers remembered under other settings are not used.
	t.Setenv("GODEBUG", "x509negativeserial=1")
	if _, _, stderr := h.run("cert", "renew", "--all", "-v"); strings.Contains(stderr, remembered) {
		t.Errorf("with another GODEBUG, a remembered answer was used:\n%s", stderr)
	}
	t.Setenv("GODEBUG", "")
	h.run("cert", "renew", "--all") // decides again under these settings
	if _, _, stderr := h.run("cert", "renew", "--all", "-v"); !strings.Contains(stderr, "alpha.test: "+remembered) {
		t.Errorf("alpha's answer is not remembered any more:\n%s", stderr)
	}
	t.Setenv("MYAPP_ACME_EMAIL", "other@example.com")
	if _, _, stderr := h.run("cert", "renew", "--all", "-v"); strings.Contains(stderr, remembered) {
		t.Errorf("with MYAPP_ACME_EMAIL set, a remembered answer was used:\n%s", stderr)
	}
	if n := h.requests.Load(); n != 0 {
		t.Errorf("the CA got %d requests, want 0", n)
	}
}

// TestCertRenewNotDueChecksIssuer: a run with nothing due still checks
// what the issuer will read from outside myapp.toml (an EAB secret's
// variable, the CA roots file), so that it is reported weeks before
// renewal; a remembered answer does not hide it. DNS credentials are not
// checked then (setting up some providers calls their API).
func TestCertRenewNotDueChecksIssuer(t *testing.T) {
	unsetenv(t, "EXEC_PATH")
	unsetenv(t, "EAB_SECRET_FOR_TEST")
	h := newTestHost(t)
	appendACME := func(app, lines string) string {
		p := h.root + "/etc/myapp/" + app + "/myapp.toml"
		toml, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h.write(p, append(toml, lines...), 0o644) // the last table is [acme]
		return p
	}
	h.notDue("alpha")
	p := appendACME("alpha", "eab_kid = \"kid1\"\neab_hmac = \"${EAB_SECRET_FOR_TEST}\"\n")
	code, _, stderr := h.run("cert", "renew", "--config", p)
	if code != 2 || !strings.Contains(stderr, "alpha.test: failed") || !strings.Contains(stderr, "${EAB_SECRET_FOR_TEST} is not set") {
		t.Errorf("single app, EAB secret unset: exit %d, want 2 naming the variable\n%s", code, stderr)
	}
	h.notDue("gamma")
	p = appendACME("gamma", "dns_provider = \"exec\"\n")
	if code, _, stderr := h.run("cert", "renew", "--config", p); code != 0 || !strings.HasPrefix(stderr, "gamma.test: not due") {
		t.Errorf("single app, DNS credentials missing, not due: exit %d, want 0 (not checked without an order)\n%s", code, stderr)
	}

	h.notDue("beta") // its issuer reads the fake CA's roots file (ca_roots)
	time.Sleep(statcache.Margin + 100*time.Millisecond)
	for run := range 2 {
		code, _, stderr = h.run("cert", "renew", "--all", "-v")
		if code != 3 || !strings.Contains(stderr, "alpha.test: failed") || !strings.Contains(stderr, "beta.test: not due") {
			t.Fatalf("run %d: exit %d, want 3 with alpha failing and beta not due\n%s", run, code, stderr)
		}
	}
	for _, app := range []string{"beta", "gamma"} {
		if !strings.Contains(stderr, app+".test: config, certificate, key and renewal state unchanged") {
			t.Errorf("%s's answer was not remembered:\n%s", app, stderr)
		}
	}
	if strings.Contains(stderr, "alpha.test: config, certificate") {
		t.Errorf("alpha (EAB secret from the environment) was remembered:\n%s", stderr)
	}
	if err := os.WriteFile(h.caRoots, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = h.run("cert", "renew", "--all")
	// Every app here reads the one roots file: all fail, config mistakes only.
	if code != 2 || !strings.Contains(stderr, "beta.test: failed") || !strings.Contains(stderr, "holds no PEM certificate") {
		t.Errorf("CA roots file emptied: exit %d, want 2 with beta failing on acme.ca_roots\n%s", code, stderr)
	}
	if err := os.Remove(h.caRoots); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(h.caRoots, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() { _, _, stderr := h.run("cert", "renew", "--all"); done <- stderr }()
	select {
	case stderr := <-done:
		if !strings.Contains(stderr, "beta.test: failed") || !strings.Contains(stderr, "not a regular file") {
			t.Errorf("CA roots file a FIFO: want beta failing, not a regular file\n%s", stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a FIFO as the CA roots file blocked the run")
	}
	if n := h.requests.Load(); n != 0 {
		t.Errorf("the CA got %d requests, want 0", n)
	}
}
