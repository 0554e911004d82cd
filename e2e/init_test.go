package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/internal/testenv"
)

// TestInit is issue 2's "Done when" list, on one fresh host booted once, in
// the order that keeps the host fresh for as long as it must be:
// 7 (bad configs) → 6 (dry run) → init → 1–4 (the result) → 5 (init again).
func TestInit(t *testing.T) {
	testenv.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 35*time.Minute)
	defer cancel()

	e := newEnv(t, ctx)

	pristine := e.snapshot(t)
	t.Run("7_bad_input_fails_before_any_change", func(t *testing.T) { testBadInput(t, e, pristine) })
	t.Run("6_dry_run_changes_nothing", func(t *testing.T) { testDryRun(t, e, pristine) })
	t.Run("ssh_known_hosts_with_only_ed25519", func(t *testing.T) {
		// What OpenSSH records on a first connection: one ed25519 line,
		// while sshd also offers ECDSA and RSA keys. OpenSSH connects; so
		// must myapp (it has to prefer the key types known_hosts holds).
		c := e.config()
		c.KnownHosts = e.host.KnownHostsEd25519File
		cfg := e.writeConfig(t, "ed25519-only.toml", c)
		r := e.myapp(t, ctx, "--config", cfg, "init", "--host", hostName, "--dry-run")
		if r.code != 0 {
			t.Errorf("exit %d, want 0 (ssh -o UserKnownHostsFile=%s connects to this host)\n%s", r.code, c.KnownHosts, r)
		}
		e.assertUnchanged(t, pristine, "init --dry-run")
	})

	cfg := e.writeConfig(t, "myapp.toml", e.config())
	var first hostReport
	if !t.Run("init", func(t *testing.T) {
		r := e.myapp(t, ctx, "--config", cfg, "--output", "json", "init", "--host", hostName)
		t.Logf("first init:\n%s", r)
		if r.code != 0 {
			t.Fatalf("init exited %d, want 0", r.code)
		}
		first = parseReport(t, r)
		if !first.OK || first.Error != "" || first.Summary.Failed != 0 || first.Summary.Changed == 0 {
			t.Fatalf("init report: ok=%v error=%q summary=%+v; want ok, no failures, changes on a fresh host", first.OK, first.Error, first.Summary)
		}
	}) {
		t.FailNow() // nothing below can pass
	}

	var serial string
	t.Run("1_https_serves_frontend_with_pebble_cert", func(t *testing.T) { serial = testHTTPS(t, e) })
	t.Run("2_routing", func(t *testing.T) { testRouting(t, e) })
	t.Run("3_auth_through_nginx", func(t *testing.T) { testAuth(t, e) })
	t.Run("4_units_and_secrets", func(t *testing.T) { testUnits(t, e) })
	t.Run("host_layout", func(t *testing.T) { testLayout(t, e) })
	t.Run("5_second_init_changes_nothing", func(t *testing.T) { testSecondInit(t, e, cfg, serial) })
}

// testUnits: the auth server and the renewal timer run; the secrets file is
// 0600 and root's.
func testUnits(t *testing.T, e *env) {
	ctx := context.Background()
	units := []string{app + "-auth.service", app + "-renew.timer"}
	out, err := e.host.Run(ctx, append([]string{"systemctl", "is-active"}, units...)...)
	if err != nil || strings.Fields(out) == nil || strings.Join(strings.Fields(out), " ") != "active active" {
		t.Errorf("systemctl is-active %v = %q, %v", units, out, err)
	}
	out, err = e.host.Run(ctx, append([]string{"systemctl", "is-enabled"}, units...)...)
	if err != nil {
		t.Errorf("systemctl is-enabled %v = %q, %v (units must survive a reboot)", units, out, err)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{"/etc/myapp/" + app + "/.env", 0o600},
		{"/etc/myapp/" + app + "/certs/" + domain + "/privkey.pem", 0o600},
	} {
		fi, err := os.Lstat(e.host.Path(f.path))
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %v, want regular file %v", f.path, fi.Mode(), f.mode)
		}
		if uid, gid := owner(fi); uid != 0 || gid != 0 {
			t.Errorf("%s: owner %d:%d, want root (0:0)", f.path, uid, gid)
		}
	}
	env, err := os.ReadFile(e.host.Path("/etc/myapp/" + app + "/.env"))
	if err == nil {
		if v := envValue(string(env), "SECRET_KEY"); len(v) < 32 {
			t.Errorf(".env SECRET_KEY has %d characters, want at least 32 bytes of randomness", len(v))
		}
		if envValue(string(env), "DB_URL") == "" {
			t.Errorf(".env has no DB_URL")
		}
	}
}

// testLayout: the files of DESIGN.md "On the host" are where the contract
// says.
func testLayout(t *testing.T, e *env) {
	for _, p := range []string{
		"/usr/local/bin/myapp",
		"/etc/myapp/" + app + "/myapp.toml",
		"/etc/myapp/" + app + "/certs/" + domain + "/fullchain.pem",
		"/etc/nginx/sites-available/" + app + ".conf",
		"/etc/systemd/system/" + app + "-auth.service",
		"/etc/systemd/system/" + app + "-renew.service",
		"/etc/systemd/system/" + app + "-renew.timer",
		"/var/www/" + app + "/acme",
		"/var/lib/myapp/acme",
	} {
		if _, err := os.Lstat(e.host.Path(p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	// The link's target is a path inside the host: resolve it there, not here.
	enabled := "/etc/nginx/sites-enabled/" + app + ".conf"
	if target, err := os.Readlink(e.host.Path(enabled)); err != nil {
		t.Errorf("site not enabled: %s is not a symlink: %v", enabled, err)
	} else {
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(enabled), target)
		}
		if filepath.Clean(target) != "/etc/nginx/sites-available/"+app+".conf" {
			t.Errorf("%s -> %s, want /etc/nginx/sites-available/%s.conf", enabled, target, app)
		}
	}
	cur := "/var/www/" + app + "/current"
	target, err := os.Readlink(e.host.Path(cur))
	if err != nil {
		t.Fatalf("%s is not a symlink: %v", cur, err)
	}
	abs := target
	if !filepath.IsAbs(abs) {
		abs = filepath.Join("/var/www/"+app, target)
	}
	if filepath.Dir(filepath.Clean(abs)) != "/var/www/"+app+"/releases" {
		t.Errorf("%s -> %s, want a directory under /var/www/%s/releases/", cur, target, app)
	}
	want, _ := os.ReadFile(filepath.Join(e.frontend, "index.html"))
	got, err := os.ReadFile(e.host.Path(abs + "/index.html"))
	if err != nil || string(got) != string(want) {
		t.Errorf("current release index.html differs from the frontend's (%v)", err)
	}
}

// testSecondInit: init again reports nothing changed and keeps the
// certificate.
func testSecondInit(t *testing.T, e *env, cfg, serial string) {
	before := e.snapshot(t)
	r := e.myapp(t, context.Background(), "--config", cfg, "--output", "json", "init", "--host", hostName)
	if r.code != 0 {
		t.Fatalf("second init exited %d, want 0\n%s", r.code, r)
	}
	h := parseReport(t, r)
	if !h.OK || h.Summary.Changed != 0 || h.Summary.Failed != 0 {
		t.Errorf("second init summary %+v ok=%v, want 0 changed and 0 failed\n%s", h.Summary, h.OK, r)
	}
	for _, s := range h.Steps {
		if s.Status == "changed" || s.Status == "failed" {
			t.Errorf("step %q %s on the second init: %s", s.Step, s.Status, s.Detail)
		}
	}
	// The app's database may be written by the running auth server; every
	// other file myapp manages must be byte-for-byte what it was.
	var changed []string
	for _, d := range before.Diff(e.snapshot(t)) {
		if !strings.Contains(d, " /var/lib/myapp/"+app+"/") {
			changed = append(changed, d)
		}
	}
	if len(changed) > 0 {
		t.Errorf("the second init changed files although it reported nothing changed:\n  %s", strings.Join(changed, "\n  "))
	}
	if serial == "" {
		t.Fatal("no serial from the first check")
	}
	if got := servedCert(t, e).SerialNumber.String(); got != serial {
		t.Errorf("served certificate serial %s after the second init, want the first one's %s", got, serial)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// envValue reads KEY=VALUE (optionally quoted) from a .env file.
func envValue(env, key string) string {
	for _, line := range strings.Split(env, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && strings.TrimSpace(strings.TrimPrefix(k, "export ")) == key {
			v = strings.TrimSpace(v)
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}
