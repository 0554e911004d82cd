package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEnvironment proves the peers themselves: a booted host answers SSH with
// its known host key and runs systemd, Pebble serves its directory and roots,
// and its DNS says 127.0.0.1 for any name.
func TestEnvironment(t *testing.T) {
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	unlock, err := Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	m, err := BootHost(ctx, HostOptions{Hosts: []string{"shop.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Stop(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(m.Root); !os.IsNotExist(err) {
			t.Errorf("rootfs %s still exists after Stop", m.Root)
		}
	}()

	t.Run("host", func(t *testing.T) {
		out, err := m.Run(ctx, "systemctl", "is-system-running")
		state := strings.TrimSpace(out)
		if state != "running" && state != "degraded" {
			t.Fatalf("is-system-running = %q (%v)\n%s", state, err, m.Diagnose(ctx))
		}
		out, err = m.Run(ctx, "sh", "-c", "id -u; test -x /usr/sbin/nginx && echo nginx || echo no-nginx; getent hosts shop.test")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(out); len(got) < 3 || got[0] != "0" || got[1] != "no-nginx" || got[2] != "127.0.0.1" {
			t.Errorf("id/nginx/hosts = %q", out)
		}
		r, err := m.Exec(ctx, nil, "sh", "-c", "echo out; echo err >&2; exit 3")
		if err != nil || r.Stdout != "out\n" || r.Stderr != "err\n" || r.Code != 3 {
			t.Errorf("Exec = %+v, %v; want stdout, stderr and exit 3 apart", r, err)
		}
		// Files written inside are visible in Root and vice versa.
		if _, err := m.Run(ctx, "sh", "-c", "printf 'x y' > /root/probe"); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(m.Path("/root/probe")); err != nil || string(b) != "x y" {
			t.Errorf("probe file = %q, %v", b, err)
		}
		known, _ := os.ReadFile(m.KnownHostsFile)
		if !strings.HasPrefix(string(known), "[127.0.0.1]:") || !strings.Contains(string(known), "ssh-ed25519 ") ||
			!strings.Contains(string(known), "ecdsa-sha2-nistp256 ") {
			t.Errorf("known_hosts = %q", known)
		}
		// OpenSSH with only the ed25519 key known negotiates ed25519.
		args := m.sshArgs()
		for i, a := range args {
			if a == "UserKnownHostsFile="+m.KnownHostsFile {
				args[i] = "UserKnownHostsFile=" + m.KnownHostsEd25519File
			}
		}
		if out, err := exec.CommandContext(ctx, "ssh", append(args, "true")...).CombinedOutput(); err != nil {
			t.Errorf("ssh with known_hosts.ed25519: %v %s", err, out)
		}
		st, err := os.Stat(m.IdentityFile)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("identity file mode: %v %v", st.Mode(), err)
		}
	})

	t.Run("snapshot", func(t *testing.T) {
		before, err := TakeSnapshot(m.Root, "/etc/ssh", "/etc/myapp")
		if err != nil {
			t.Fatal(err)
		}
		if before["/etc/myapp"] != "absent" || before["/etc/ssh/sshd_config.d/10-testenv.conf"] == "" {
			t.Fatalf("unexpected snapshot: %v", before)
		}
		if _, err := m.Run(ctx, "sh", "-c", "chmod 600 /etc/ssh/sshd_config.d/10-testenv.conf && mkdir /etc/myapp"); err != nil {
			t.Fatal(err)
		}
		after, err := TakeSnapshot(m.Root, "/etc/ssh", "/etc/myapp")
		if err != nil {
			t.Fatal(err)
		}
		if d := before.Diff(after); len(d) != 2 { // mode change, absent → dir
			t.Errorf("diff = %q", d)
		}
	})

	p, err := StartPebble(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()

	t.Run("pebble", func(t *testing.T) {
		addrs, err := p.Resolver().LookupHost(ctx, "www.shop.test")
		if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1" {
			t.Errorf("lookup www.shop.test = %v, %v", addrs, err)
		}
		if _, err := p.RootPool(ctx); err != nil {
			t.Error(err)
		}
		if inter, err := p.Intermediates(ctx); err != nil || !strings.Contains(string(inter), "BEGIN CERTIFICATE") {
			t.Errorf("intermediates: %v", err)
		}
		// The container reaches Pebble's API over the shared loopback.
		if out, err := m.Run(ctx, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/14000 && echo open"); err != nil || strings.TrimSpace(out) != "open" {
			t.Errorf("container cannot reach pebble: %q %v", out, err)
		}
	})

	t.Run("pebble_control", func(t *testing.T) {
		log, _ := os.ReadFile(filepath.Join(p.LogDir, "pebble.log"))
		if !strings.Contains(string(log), `Loaded profile "shortlived" with certificate validity period of 518400 seconds`) {
			t.Errorf("pebble did not load the 6-day shortlived profile:\n%s", log)
		}
		dir := func() error {
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: minica(t, p)}}}
			resp, err := c.Get(p.DirectoryURL)
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		before, err := p.Requests()
		if err != nil {
			t.Fatal(err)
		}
		if err := dir(); err != nil {
			t.Fatal(err)
		}
		if n, _ := p.Requests(); n != before+1 {
			t.Errorf("Requests after one GET /dir = %d, want %d", n, before+1)
		}
		root, _ := p.Roots(ctx)
		if err := p.StopCA(); err != nil {
			t.Fatal(err)
		}
		if err := dir(); err == nil {
			t.Errorf("directory still answers after StopCA")
		}
		if err := p.StartCA(ctx); err != nil {
			t.Fatal(err)
		}
		if err := dir(); err != nil {
			t.Errorf("directory after StartCA: %v", err)
		}
		if again, _ := p.Roots(ctx); string(again) == string(root) || len(again) == 0 {
			t.Errorf("a restarted Pebble should have a new root")
		}
		// Two GETs here and StartCA's own wait for the directory.
		if n, _ := p.Requests(); n != before+3 {
			t.Errorf("Requests across a restart = %d, want %d (the log is kept)", n, before+3)
		}
		if n, err := p.Orders(); n != 0 || err != nil {
			t.Errorf("Orders = %d, %v; want 0", n, err)
		}
		if err := p.SetServFail(ctx, "broken.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Resolver().LookupHost(ctx, "broken.test"); err == nil {
			t.Errorf("broken.test resolves despite SetServFail")
		}
		if err := p.ClearServFail(ctx, "broken.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Resolver().LookupHost(ctx, "broken.test"); err != nil {
			t.Errorf("broken.test after ClearServFail: %v", err)
		}
	})

	t.Run("stub", func(t *testing.T) {
		s, err := StubBackend(ctx, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/ping?a=1", strings.NewReader("hi"))
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e Echo
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatal(err)
		}
		if e.Method != "POST" || e.Path != "/ping" || e.RawQuery != "a=1" || e.Body != "hi" ||
			len(e.Headers["X-Forwarded-Proto"]) != 1 || e.Headers["X-Forwarded-Proto"][0] != "https" {
			t.Errorf("echo = %+v", e)
		}
	})
}

// minica is the pool that trusts Pebble's own HTTPS.
func minica(t *testing.T, p *Pebble) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(p.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b)
	return pool
}

// TestFlockSaysWhenItWaits: the demo tells its user it waits for a test
// run, once, and says nothing when the lock is free.
func TestFlockSaysWhenItWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "machine.lock")
	unlock, err := flock(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	calls := 0
	if _, err := flockNotify(ctx, path, func() { calls++ }); err == nil || calls != 1 {
		t.Fatalf("lock held elsewhere: err %v, %d calls; want a timeout after exactly one call", err, calls)
	}
	unlock()
	calls = 0
	unlock, err = flockNotify(t.Context(), path, func() { calls++ })
	if err != nil || calls != 0 {
		t.Fatalf("free lock: err %v, %d calls; want it taken silently", err, calls)
	}
	unlock()
}
