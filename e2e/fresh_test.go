package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/myapp/myapp/internal/testenv"
)

// testBadInput: an unknown key, a domain with ';' or a newline, and an
// unknown host key each fail with a clear error and exit 2 (or 1 for the
// host key), and nothing on the host changes.
func testBadInput(t *testing.T, e *env, pristine testenv.Snapshot) {
	ctx := context.Background()

	t.Run("unknown_key", func(t *testing.T) {
		p := e.config()
		p.Extra = `colour = "blue"` // line 3
		cfg := e.writeConfig(t, "unknown-key.toml", p)
		r := e.myapp(t, ctx, "--config", cfg, "init", "--host", hostName)
		t.Logf("%s", r)
		if r.code != 2 {
			t.Errorf("exit %d, want 2", r.code)
		}
		msg := r.stderr + r.stdout
		if !strings.Contains(msg, "unknown-key.toml") || !regexp.MustCompile(`(line 3\b|:3\b)`).MatchString(msg) || !strings.Contains(msg, "colour") {
			t.Errorf("error should name the file unknown-key.toml, line 3 and the key colour:\n%s", r)
		}
		e.assertUnchanged(t, pristine, "a config with an unknown key")
	})

	for _, tc := range []struct{ name, domain string }{
		{"domain_with_semicolon", "shop.test;evil"},
		{"domain_with_newline", "shop.test\nevil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.config()
			p.Domains = []string{tc.domain, domain2}
			cfg := e.writeConfig(t, tc.name+".toml", p)
			r := e.myapp(t, ctx, "--config", cfg, "init", "--host", hostName)
			t.Logf("%s", r)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			msg := r.stderr + r.stdout
			if !strings.Contains(msg, "domains") || !strings.Contains(msg, tc.name+".toml") {
				t.Errorf("error should name the file and the key domains:\n%s", r)
			}
			e.assertUnchanged(t, pristine, "a config with domain "+strconv.Quote(tc.domain))
		})
	}

	t.Run("unknown_host_key", func(t *testing.T) {
		empty := filepath.Join(e.dir, "empty_known_hosts")
		if err := os.WriteFile(empty, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		p := e.config()
		p.KnownHosts = empty
		cfg := e.writeConfig(t, "unknown-host-key.toml", p)
		r := e.myapp(t, ctx, "--config", cfg, "init", "--host", hostName)
		t.Logf("%s", r)
		if r.code != 1 && r.code != 2 {
			t.Errorf("exit %d, want 1 or 2", r.code)
		}
		msg := r.stderr + r.stdout
		namesHost := strings.Contains(msg, hostName) || strings.Contains(msg, e.host.Addr)
		namesKey := strings.Contains(msg, "SHA256:") || strings.Contains(strings.ToLower(msg), "host key") || strings.Contains(msg, "known_hosts")
		if !namesHost || !namesKey {
			t.Errorf("error should name the host (%s or %s) and the unknown host key (fingerprint, known_hosts):\n%s", hostName, e.host.Addr, r)
		}
		e.assertUnchanged(t, pristine, "a connection to an unknown host key")
	})
}

// testDryRun: init --dry-run on the fresh host prints the plan and changes
// nothing.
func testDryRun(t *testing.T, e *env, pristine testenv.Snapshot) {
	cfg := e.writeConfig(t, "dry-run.toml", e.config())
	r := e.myapp(t, context.Background(), "--config", cfg, "init", "--host", hostName, "--dry-run")
	if r.code != 0 {
		t.Errorf("exit %d, want 0\n%s", r.code, r)
	}
	out := r.stdout
	for _, want := range []string{
		"/etc/nginx/sites-available/" + app + ".conf",
		"server_name",
		app + "-auth.service",
		app + "-renew.timer",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run stdout lacks %q", want)
		}
	}
	t.Logf("%s", r)
	e.assertUnchanged(t, pristine, "init --dry-run")
	if _, err := os.Lstat(e.host.Path("/usr/sbin/nginx")); err == nil {
		t.Errorf("init --dry-run installed nginx")
	}
}
