package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/internal/testenv"
)

// hookLog is where the test's deploy_hook appends RENEWED_DOMAINS.
const hookLog = "/root/e2e-deploy-hook.log"

// TestCert is issue 3's "Done when" list against Pebble, on one host booted
// once and initialised with short-lived (6-day) certificates, in the order
// that keeps each scenario's starting point known: 7 (the first
// certificate) → a no-op renew → 2 (forced, under load) → 7 (the CA's
// window makes it due) → 3 (two at once) → 4 (CA down, backoff) → 5
// (preflight). The `local` issuer (6) needs a host of its own:
// TestCertLocal. The benchmark (1) is scripts/bench-renew.sh.
func TestCert(t *testing.T) {
	testenv.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)

	c := e.config()
	c.ACMEExtra = "profile = \"shortlived\"\ndeploy_hook = " + testenv.TOMLString(`echo "$RENEWED_DOMAINS" >> `+hookLog)
	cfg := e.writeConfig(t, "cert.toml", c)
	if !t.Run("init_shortlived", func(t *testing.T) {
		r := e.myapp(t, ctx, "--config", cfg, "--output", "json", "init", "--host", hostName)
		if h := parseReport(t, r); r.code != 0 || !h.OK {
			t.Fatalf("init with acme.profile = \"shortlived\" exited %d, want 0\n%s", r.code, r)
		}
	}) {
		t.FailNow()
	}

	// The host finds its domains in /etc/hosts (BootHost writes their A
	// records there). Give them AAAA records too (nginx listens on [::]:80
	// and [::]:443), like a dual-stack host: the IPv4-only case is the last
	// scenario, because a failed renewal there would set a backoff.
	ipv4Only := e.readHostFile(t, "/etc/hosts")
	e.writeHostFile(t, "/etc/hosts", ipv4Only+"::1\t"+domain+" "+domain2+"\n")

	t.Run("7_shortlived_certificate_and_schedule", func(t *testing.T) { testShortlived(t, e) })
	t.Run("noop_renew_contacts_nobody", func(t *testing.T) { testNoopRenew(t, e) })
	t.Run("2_forced_renewal_under_load", func(t *testing.T) { testRenewUnderLoad(t, e) })
	t.Run("7_ari_window_makes_it_due", func(t *testing.T) { testARIWindow(t, e) })
	t.Run("3_concurrent_renewals_one_order", func(t *testing.T) { testConcurrentRenew(t, e) })
	t.Run("4_ca_down_backs_off", func(t *testing.T) { testCADown(t, e) })
	t.Run("5_preflight_names_the_domain", func(t *testing.T) { testPreflight(t, e) })
	t.Run("renew_on_host_with_ipv4_only_names", func(t *testing.T) {
		// What BootHost's /etc/hosts says, and what many hosts have for
		// their own name (Debian maps the FQDN to 127.0.1.1): an A record
		// and no AAAA. "No AAAA" is not a preflight failure.
		e.writeHostFile(t, "/etc/hosts", ipv4Only)
		r, c := e.renew(t, context.Background(), nil, "--force", "--ignore-backoff")
		if r.code != 0 || c.Status != "renewed" {
			t.Errorf("cert renew --force on the host, names with only an A record: exit %d status %q, want 0 and renewed\n%s", r.code, c.Status, r)
		}
	})
}

// testShortlived: init with profile "shortlived" installed a ~6-day
// certificate, and cert status says it is not due and will be renewed at
// half its lifetime (notBefore + 3 days), the rule for certificates of ten
// days or less, which Pebble's default window (starting there) agrees with.
func testShortlived(t *testing.T, e *env) {
	leaf := servedCert(t, e)
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	if life < 6*24*time.Hour-time.Hour || life > 6*24*time.Hour+time.Hour {
		t.Errorf("served certificate lives %s (%s to %s), want about 6 days (Pebble's shortlived profile)", life, leaf.NotBefore, leaf.NotAfter)
	}
	st := e.status(t, context.Background())
	t.Logf("cert status: %+v", st)
	if !st.Installed || st.Serial != serialOf(leaf) {
		t.Errorf("cert status: installed %v serial %q, want the served %s", st.Installed, st.Serial, serialOf(leaf))
	}
	if st.Due {
		t.Errorf("cert status says a fresh certificate is due: %s", st.Detail)
	}
	if want := leaf.NotBefore.Add(life / 2); !near(st.NextRenewal, want, 2*time.Minute) {
		t.Errorf("next_renewal %s, want notBefore + half the lifetime = %s", st.NextRenewal, want)
	}
	if !strings.Contains(st.Issuer, "Pebble") {
		t.Errorf("issuer %q, want Pebble's intermediate", st.Issuer)
	}
}

// testNoopRenew: cert renew right after init is not due; the first run may
// ask the CA for its renewal window, the second decides from the stored
// state alone: no request reaches Pebble and nothing on the host changes.
func testNoopRenew(t *testing.T, e *env) {
	ctx := context.Background()
	serial := servedSerial(t, e)
	before := e.requests(t)
	r1, c1 := e.renew(t, ctx, nil)
	if r1.code != 0 || c1.Status != "not_due" || c1.Serial != serial {
		t.Fatalf("first no-op renew: exit %d status %q serial %q; want 0, not_due, %s\n%s", r1.code, c1.Status, c1.Serial, serial, r1)
	}
	first := e.requests(t)
	t.Logf("first no-op renew: %d requests to Pebble (renewal information)", first-before)

	var state struct {
		Serial      string    `json:"serial"`
		ARINextPoll time.Time `json:"ari_next_poll"`
	}
	b, err := os.ReadFile(e.host.Path(hostCertState))
	if err != nil || json.Unmarshal(b, &state) != nil {
		t.Fatalf("%s after a no-op renew: %v\n%s", hostCertState, err, b)
	}
	if state.Serial != serial || !state.ARINextPoll.After(time.Now()) {
		t.Errorf("stored ARI state %s: serial %q ari_next_poll %s; want %s and a time in the future", hostCertState, state.Serial, state.ARINextPoll, serial)
	}

	snap, err := testenv.TakeSnapshot(e.host.Root, "/etc/myapp", "/etc/nginx", "/var/lib/myapp/acme", hostWebroot)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r2, c2 := e.renew(t, ctx, nil)
	t.Logf("second no-op renew: %s over SSH\n%s", time.Since(start), r2)
	if r2.code != 0 || c2.Status != "not_due" {
		t.Errorf("second no-op renew: exit %d status %q, want 0 and not_due\n%s", r2.code, c2.Status, r2)
	}
	if n := e.requests(t) - first; n != 0 {
		t.Errorf("second no-op renew made %d requests to Pebble, want 0 (the stored window decides)", n)
	}
	after, err := testenv.TakeSnapshot(e.host.Root, "/etc/myapp", "/etc/nginx", "/var/lib/myapp/acme", hostWebroot)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, snap, after, "the host after a no-op cert renew")
	if _, err := os.Stat(e.host.Path(hookLog)); err == nil {
		t.Errorf("deploy_hook ran although nothing was renewed")
	}
}

// testARIWindow: Pebble's renewal information for the installed
// certificate is set to a window that has passed; a plain cert renew (no
// --force) asks for it, finds the certificate due and renews it, telling
// the CA which certificate it replaces. The next run is not due again.
func testARIWindow(t *testing.T, e *env) {
	ctx := context.Background()
	old := servedCert(t, e)
	now := time.Now()
	if err := e.pebble.SetRenewalInfo(ctx, e.installedPEM(t), now.Add(-2*time.Hour), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	orders, replacements := e.orders(t), e.replacements(t)
	r, c := e.renew(t, ctx, nil)
	t.Logf("%s", r)
	if r.code != 0 || c.Status != "renewed" {
		t.Fatalf("cert renew inside the CA's window: exit %d status %q, want 0 and renewed\n%s", r.code, c.Status, r)
	}
	if !strings.Contains(c.Reason, "window") {
		t.Errorf("reason %q, want it to say the CA's renewal window made it due", c.Reason)
	}
	if n := e.orders(t) - orders; n != 1 {
		t.Errorf("%d orders reached Pebble, want 1", n)
	}
	leaf := servedCert(t, e)
	if serialOf(leaf) == serialOf(old) || serialOf(leaf) != c.Serial {
		t.Errorf("served serial %s, want the renewed %s (old %s)", serialOf(leaf), c.Serial, serialOf(old))
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 6*24*time.Hour+time.Hour {
		t.Errorf("renewed certificate lives %s, want the shortlived profile's 6 days", life)
	}
	if e.replacements(t) != replacements+1 {
		t.Errorf("Pebble logged no ARI replacement: the order did not say which certificate it replaces (RFC 9773 \"replaces\")")
	}

	r, c = e.renew(t, ctx, nil)
	if r.code != 0 || c.Status != "not_due" {
		t.Errorf("cert renew right after the renewal: exit %d status %q, want 0 and not_due\n%s", r.code, c.Status, r)
	}
}

// replacements counts the orders Pebble accepted as ARI replacements.
func (e *env) replacements(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.pebble.LogDir, "pebble.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "is a replacement of")
}
