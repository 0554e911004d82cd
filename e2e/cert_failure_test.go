package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/internal/testenv"
)

// testCADown: with Pebble stopped, cert renew --force fails (exit 1),
// changes neither the served certificate nor its files, and records when
// to try again; a second run before then does not contact the (restarted)
// CA and says when the next attempt is. --ignore-backoff then renews
// against the restarted Pebble, which has forgotten the account.
func testCADown(t *testing.T, e *env) {
	ctx := context.Background()
	serial := servedSerial(t, e)
	files := e.certSnapshot(t)

	if err := e.pebble.StopCA(); err != nil {
		t.Fatal(err)
	}
	stopped := true
	t.Cleanup(func() {
		if stopped { // leave a CA for whatever runs next
			_ = e.pebble.StartCA(context.Background())
		}
	})
	start := time.Now()
	r, c := e.renew(t, ctx, nil, "--force")
	t.Logf("%s", r)
	if r.code != 1 || c.Status != "failed" {
		t.Errorf("cert renew --force with the CA down: exit %d status %q, want 1 and failed", r.code, c.Status)
	}
	if c.NextAttempt.Before(start.Add(20 * time.Minute)) {
		t.Errorf("next_attempt %s, want a backoff (30 min after the first failure)", c.NextAttempt)
	}
	if got := servedSerial(t, e); got != serial {
		t.Errorf("served serial %s after a failed renewal, want the unchanged %s", got, serial)
	}
	assertSame(t, files, e.certSnapshot(t), "certificate files and nginx config after a failed renewal")
	st := e.status(t, ctx)
	if st.LastResult != "failed" || st.LastError == "" || !near(st.NextAttempt, c.NextAttempt, time.Second) {
		t.Errorf("cert status: last_result %q last_error %q next_attempt %s; want failed, the error and %s",
			st.LastResult, st.LastError, st.NextAttempt, c.NextAttempt)
	}

	if err := e.pebble.StartCA(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = false
	root, err := e.pebble.Roots(ctx) // a new Pebble, a new root
	if err != nil {
		t.Fatal(err)
	}
	e.roots.AppendCertsFromPEM(root)
	requests := e.requests(t)
	r, c = e.renew(t, ctx, nil, "--force")
	t.Logf("%s", r)
	when := st.NextAttempt.UTC().Format(time.RFC3339)
	if r.code != 1 || c.Status != "failed" || !strings.Contains(c.Reason+r.stderr, when) {
		t.Errorf("second cert renew --force inside the backoff: exit %d status %q; want 1, failed, and the next attempt time %s in the message", r.code, c.Status, when)
	}
	if n := e.requests(t) - requests; n != 0 {
		t.Errorf("the run inside the backoff made %d requests to the CA, want 0", n)
	}
	assertSame(t, files, e.certSnapshot(t), "certificate files after a run inside the backoff")

	orders := e.orders(t)
	r, c = e.renew(t, ctx, nil, "--force", "--ignore-backoff")
	t.Logf("%s", r)
	if r.code != 0 || c.Status != "renewed" {
		t.Fatalf("cert renew --force --ignore-backoff with the CA back: exit %d status %q, want 0 and renewed", r.code, c.Status)
	}
	if n := e.orders(t) - orders; n != 1 {
		t.Errorf("%d orders reached Pebble, want 1", n)
	}
	if got := servedSerial(t, e); got != c.Serial || got == serial {
		t.Errorf("served serial %s, want the new %s", got, c.Serial)
	}
	if st := e.status(t, ctx); st.LastResult != "renewed" || !st.NextAttempt.IsZero() {
		t.Errorf("cert status after recovering: last_result %q next_attempt %s; want renewed and no backoff", st.LastResult, st.NextAttempt)
	}
}

// testPreflight: when the CA could not reach the challenge, the preflight
// says which domain fails and no order is placed (nothing reaches the CA
// at all). Two ways to break it: the webroot unreadable by nginx (both
// names fail), and DNS failing for one name (only that one is named).
func testPreflight(t *testing.T, e *env) {
	ctx := context.Background()
	files := e.certSnapshot(t)

	t.Run("webroot_unreadable", func(t *testing.T) {
		fi, err := os.Stat(e.host.Path(hostWebroot))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(e.host.Path(hostWebroot), 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(e.host.Path(hostWebroot), fi.Mode().Perm())
		requests := e.requests(t)
		r, c := e.renew(t, ctx, nil, "--force", "--ignore-backoff")
		t.Logf("%s", r)
		if r.code != 1 || c.Status != "failed" {
			t.Errorf("exit %d status %q, want 1 and failed", r.code, c.Status)
		}
		// nginx's try_files cannot see the probe: 404 on every address.
		if names := failingNames(c.Reason); !names[domain] || !names[domain2] || !strings.Contains(c.Reason, "127.0.0.1") || !strings.Contains(c.Reason, "hint:") {
			t.Errorf("reason should name both %s and %s, the address that failed, and give a hint:\n%s", domain, domain2, c.Reason)
		}
		if n := e.requests(t) - requests; n != 0 {
			t.Errorf("%d requests reached the CA after a failed preflight, want 0", n)
		}
	})

	t.Run("one_name_does_not_resolve", func(t *testing.T) {
		// www.shop.test leaves the host's /etc/hosts, and the host asks
		// Pebble's DNS for it, as the CA does; that DNS fails for it.
		hosts := e.readHostFile(t, "/etc/hosts")
		defer e.writeHostFile(t, "/etc/hosts", hosts)
		e.writeHostFile(t, "/etc/hosts", strings.ReplaceAll(hosts, " "+domain2, ""))
		if err := e.pebble.SetServFail(ctx, domain2); err != nil {
			t.Fatal(err)
		}
		defer e.pebble.ClearServFail(ctx, domain2)
		requests, orders := e.requests(t), e.orders(t)
		r, c := e.renew(t, ctx, []string{"MYAPP_DNS_RESOLVER=" + testenv.PebbleDNS}, "--force", "--ignore-backoff")
		t.Logf("%s", r)
		if r.code != 1 || c.Status != "failed" {
			t.Errorf("exit %d status %q, want 1 and failed", r.code, c.Status)
		}
		if names := failingNames(c.Reason); !names[domain2] || names[domain] {
			t.Errorf("reason should name %s, and only it, as failing:\n%s", domain2, c.Reason)
		}
		if n := e.requests(t) - requests; n != 0 || e.orders(t) != orders {
			t.Errorf("%d requests reached the CA after a failed preflight, want 0", n)
		}
	})
	assertSame(t, files, e.certSnapshot(t), "certificate files after failed preflights")
}

// failingNames are the domains the preflight's problem lines start with
// ("www.shop.test: A lookup failed", "shop.test (IPv4 127.0.0.1): ...").
func failingNames(reason string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(reason, "\n") {
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) > 0 {
			names[strings.TrimSuffix(f[0], ":")] = true
		}
	}
	return names
}
