package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/internal/testenv"
)

// wildcard is the wildcard name of the DNS-01 certificate; anyName is a
// name only the wildcard covers.
const (
	wildcard = "*." + domain
	anyName  = "anything." + domain
	// hostHook and hostHookLog are the DNS hook and its log on the host.
	hostHook    = "/root/e2e-dns-hook.sh"
	hostHookLog = "/root/e2e-dns-hook.log"
	// challengeName is where both DNS-01 answers (for domain and for the
	// wildcard) go.
	challengeName = "_acme-challenge." + domain + "."
)

// TestCertDNS is issue 3's DNS-01 bullet against Pebble: a certificate for
// shop.test and *.shop.test through lego's "exec" DNS provider, whose
// program (EXEC_PATH, a script this test writes) adds and removes the TXT
// record through pebble-challtestsrv's management API, as a DNS service's
// API would, and refuses to without its credential (EXEC_API_TOKEN).
//
// init runs on this machine with the provider's variables in its
// environment, as an operator or CI would export them; [env] copies them
// into the host's .env, where the host's renewals find them, by hand and
// from the timer's unit. The credential is printed nowhere and stored only
// in that .env, and the hook never sees the app's SECRET_KEY or DB_URL.
// Port 80 plays no part: no preflight probe, no HTTP-01 request, and
// renewals succeed with the webroot unreadable.
func TestCertDNS(t *testing.T) {
	testenv.Require(t)
	// Pebble by default reuses an account's valid authorization for half
	// the names of a new order; lego then runs no challenge, and a renewal
	// would show no hook at work. 0 still reuses about one in a hundred
	// (Pebble compares rand.Intn(100) > percent), so each order below wants
	// one hook call per authorization Pebble created for it.
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)

	pristine := e.snapshot(t)
	t.Run("config_errors_before_any_change", func(t *testing.T) { testDNSConfigErrors(t, e, pristine) })

	// The same hook on both sides: this machine (init) and the host
	// (renewals). They share the network (testenv boots the host without
	// private networking), so 127.0.0.1 reaches challtestsrv from both.
	token := secretToken(t)
	localHook, localLog := filepath.Join(e.dir, "dns-hook.sh"), filepath.Join(e.dir, "dns-hook.log")
	if err := os.WriteFile(localHook, []byte(dnsHookScript(e.pebble.DNSManagement(), localLog, token)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.host.Path(hostHook), []byte(dnsHookScript(e.pebble.DNSManagement(), hostHookLog, token)), 0o755); err != nil {
		t.Fatal(err)
	}

	c := e.config()
	c.Domains = []string{domain, wildcard}
	c.ACMEExtra = `dns_provider = "exec"`
	// The host's .env: the hook and its credential (taken from the
	// operator's environment, like a CI secret), and lego's intervals
	// shortened (its exec provider waits a minute between the two answers
	// by default).
	toml := c.TOML() + "\n[env]\n" +
		"EXEC_PATH = " + testenv.TOMLString(hostHook) + "\n" +
		"EXEC_API_TOKEN = \"${EXEC_API_TOKEN}\"\n" +
		"EXEC_POLLING_INTERVAL = \"1\"\n" +
		"EXEC_SEQUENCE_INTERVAL = \"1\"\n"
	cfg := filepath.Join(e.dir, "dns.toml")
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	operator := []string{"EXEC_PATH=" + localHook, "EXEC_API_TOKEN=" + token,
		"EXEC_POLLING_INTERVAL=1", "EXEC_SEQUENCE_INTERVAL=1"}

	t.Run("dry_run_plans_dns01_and_hides_the_credential", func(t *testing.T) {
		r := e.myappEnv(t, ctx, operator, "--config", cfg, "init", "--host", hostName, "--dry-run")
		t.Logf("%s", r)
		if r.code != 0 {
			t.Fatalf("init --dry-run exited %d, want 0", r.code)
		}
		out := r.stdout + r.stderr
		if !strings.Contains(out, "DNS-01") {
			t.Errorf("the plan does not say the certificate is validated over DNS-01")
		}
		if !strings.Contains(out, "EXEC_API_TOKEN=<redacted>") {
			t.Errorf("the plan's .env diff does not show EXEC_API_TOKEN, redacted")
		}
		assertNoSecret(t, token, "init --dry-run's output", out)
		if _, err := os.Stat(localLog); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the DNS hook ran during a dry run (%s: %v)", localLog, err)
		}
		e.assertUnchanged(t, pristine, "init --dry-run")
	})

	if !t.Run("init_with_exec_provider", func(t *testing.T) {
		authz := e.authorizations(t)
		r := e.myappEnv(t, ctx, operator, "--config", cfg, "--output", "json", "init", "--host", hostName)
		t.Logf("%s", r)
		h := parseReport(t, r)
		if r.code != 0 || !h.OK {
			t.Fatalf("init with acme.dns_provider = \"exec\" and a wildcard exited %d, want 0", r.code)
		}
		assertNoSecret(t, token, "init's output", r.stdout+r.stderr)
		// A new account: one new authorization per name, each answered at
		// the same DNS name and removed again.
		log := readFile(t, localLog)
		if n, m := strings.Count(log, "present "+challengeName+" "), e.authorizations(t)-authz; n != 2 || m != 2 {
			t.Errorf("the hook presented %d TXT records at %s for %d new authorizations, want 2 and 2 (the name and the wildcard):\n%s", n, challengeName, m, log)
		}
		if n := strings.Count(log, "cleanup "+challengeName+" "); n != 2 {
			t.Errorf("the hook was asked to clean up %d times, want 2:\n%s", n, log)
		}
	}) {
		t.FailNow()
	}

	t.Run("served_certificate_covers_the_wildcard", func(t *testing.T) {
		leaf := testDNSServed(t, e)
		if !slices.Contains(leaf.DNSNames, wildcard) || !slices.Contains(leaf.DNSNames, domain) {
			t.Errorf("certificate names %v, want %s and %s", leaf.DNSNames, domain, wildcard)
		}
	})
	t.Run("txt_records_removed", func(t *testing.T) { assertNoTXT(t, e) })
	t.Run("port_80_not_used", func(t *testing.T) { assertNoChallengeRequests(t, e) })
	t.Run("credential_only_in_the_env_file", func(t *testing.T) { testCredentialStored(t, e, token) })

	// From here on the webroot is unreadable for nginx: an HTTP-01
	// preflight (or validation) would fail on every name; DNS-01 does not
	// notice.
	if fi, err := os.Stat(e.host.Path(hostWebroot)); err == nil {
		if err := os.Chmod(e.host.Path(hostWebroot), 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(e.host.Path(hostWebroot), fi.Mode().Perm())
	} else {
		t.Fatal(err)
	}

	t.Run("renew_force_on_host_reads_the_app_env", func(t *testing.T) {
		// Only the DNS server that knows the test names is given (as on
		// this machine, cliEnv), for lego's propagation check: the hook,
		// its credential and lego's intervals come from the app's .env.
		old := servedSerial(t, e)
		calls, authz := hostHookCalls(t, e), e.authorizations(t)
		r, cert := e.renew(t, ctx, []string{"MYAPP_DNS_RESOLVER=" + testenv.PebbleDNS}, "--force")
		t.Logf("%s", r)
		if r.code != 0 || cert.Status != "renewed" {
			t.Fatalf("cert renew --force on the host (the hook only in the app's .env, webroot unreadable): exit %d status %q, want 0 and renewed", r.code, cert.Status)
		}
		assertNoSecret(t, token, "cert renew's output", r.stdout+r.stderr)
		leaf := testDNSServed(t, e)
		if got := serialOf(leaf); got == old || got != cert.Serial {
			t.Errorf("served serial %s, want the renewed %s (old %s)", got, cert.Serial, old)
		}
		assertHookAnswered(t, e, calls, authz)
		assertNoTXT(t, e)
		assertNoChallengeRequests(t, e)
	})

	t.Run("renewal_timer_unit_reads_the_app_env", func(t *testing.T) {
		// The CA's renewal window for the served certificate has passed: the
		// timer's next run renews, finding the hook in the app's .env. The
		// test DNS server is a property of this network, not of the app: a
		// drop-in gives it to the unit, as an admin would.
		old := servedSerial(t, e)
		unit := app + "-renew.service"
		dropIn := "/etc/systemd/system/" + unit + ".d/e2e-resolver.conf"
		if err := os.MkdirAll(e.host.Path(filepath.Dir(dropIn)), 0o755); err != nil {
			t.Fatal(err)
		}
		e.writeHostFile(t, dropIn, "[Service]\nEnvironment=MYAPP_DNS_RESOLVER="+testenv.PebbleDNS+"\n")
		if out, err := e.host.Run(ctx, "systemctl", "daemon-reload"); err != nil {
			t.Fatalf("systemctl daemon-reload: %v\n%s", err, out)
		}
		calls, authz := hostHookCalls(t, e), e.authorizations(t)
		now := time.Now()
		if err := e.pebble.SetRenewalInfo(ctx, e.installedPEM(t), now.Add(-2*time.Hour), now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if out, err := e.host.Run(ctx, "systemctl", "start", unit); err != nil {
			t.Fatalf("systemctl start %s: %v\n%s\n%s", unit, err, out, e.host.Diagnose(ctx, unit))
		}
		journal, _ := e.host.Run(ctx, "journalctl", "-u", unit, "--no-pager", "-n", "100")
		t.Logf("journal of %s:\n%s", unit, journal)
		if serialOf(testDNSServed(t, e)) == old {
			t.Fatalf("served serial still %s after %s in the CA's renewal window", old, unit)
		}
		assertNoSecret(t, token, "the journal of "+unit, journal)
		assertHookAnswered(t, e, calls, authz)
		assertNoTXT(t, e)
		assertNoChallengeRequests(t, e)
	})
}

// testDNSConfigErrors: an unknown dns_provider, a wildcard without one or
// in first place, and a provider without its variables are configuration
// errors (exit 2) naming the key, and the host is left as it was.
func testDNSConfigErrors(t *testing.T, e *env, pristine testenv.Snapshot) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		domains []string
		extra   string
		want    []string
	}{
		{"unknown_provider", []string{domain, wildcard}, `dns_provider = "nope"`,
			[]string{"acme.dns_provider", `"nope"`, "cloudflare", "exec"}},
		{"wildcard_without_provider", []string{domain, wildcard}, "",
			[]string{"domains[1]", wildcard, "dns_provider"}},
		{"wildcard_first", []string{wildcard, domain}, `dns_provider = "exec"`,
			[]string{"domains[0]", "cannot be a wildcard", `hint: put a plain name first, e.g. domains = ["` + domain + `", "` + wildcard + `"]`}},
		{"provider_without_credentials", []string{domain, wildcard}, `dns_provider = "exec"`,
			[]string{"acme.dns_provider", "EXEC_PATH", ".env"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.config()
			c.Domains, c.ACMEExtra = tc.domains, tc.extra
			cfg := e.writeConfig(t, tc.name+".toml", c)
			r := e.myapp(t, ctx, "--config", cfg, "init", "--host", hostName)
			t.Logf("%s", r)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			msg := r.stderr + r.stdout
			for _, want := range append(tc.want, tc.name+".toml") {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q", want)
				}
			}
			e.assertUnchanged(t, pristine, "init with "+tc.name)
		})
	}
}

// testCredentialStored: of everything myapp writes on the host, only the
// app's .env (0600) holds the DNS credential: not the installed config
// (which keeps "${EXEC_API_TOKEN}"), not the units, not the state.
func testCredentialStored(t *testing.T, e *env, token string) {
	envPath := "/etc/myapp/" + app + "/.env"
	if got := envValue(e.readHostFile(t, envPath), "EXEC_API_TOKEN"); got != token {
		t.Errorf("%s: EXEC_API_TOKEN is %d characters, want the operator's value", envPath, len(got))
	}
	var holders []string
	for _, top := range touchedPaths {
		err := filepath.WalkDir(e.host.Path(top), func(p string, d os.DirEntry, err error) error {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.Contains(string(b), token) {
				rel, _ := filepath.Rel(e.host.Root, p)
				holders = append(holders, "/"+filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(holders, []string{envPath}) {
		t.Errorf("files holding the DNS credential: %v, want only %s", holders, envPath)
	}
}

// secretToken is a fresh credential for the hook, recognisable in output.
func secretToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "dns-secret-" + hex.EncodeToString(b)
}

// assertNoSecret fails when text (what a user or a log sees) contains the
// secret.
func assertNoSecret(t *testing.T, secret, what, text string) {
	t.Helper()
	if strings.Contains(text, secret) {
		t.Errorf("%s shows the DNS credential", what)
	}
}
