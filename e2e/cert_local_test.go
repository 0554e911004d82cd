package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/internal/testenv"
)

// localCA is where the embedded CA keeps its root on the host.
const (
	localCADir  = "/etc/myapp/local-ca"
	localCARoot = localCADir + "/root.pem"
)

// TestCertLocal is issue 3's item 6 on a fresh host of its own (init
// obtains a certificate only when none is installed, so the Pebble host of
// TestCert cannot show it): init with acme.directory = "local" gives a
// working HTTPS site whose certificate verifies against the root myapp
// wrote, from the outside. The root is made once: a forced renewal issues
// a new leaf under the same root.
func TestCertLocal(t *testing.T) {
	testenv.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)

	c := e.config()
	c.Directory, c.CARoots = "local", ""
	cfg := e.writeConfig(t, "local.toml", c)
	if !t.Run("init_local", func(t *testing.T) {
		r := e.myapp(t, ctx, "--config", cfg, "--output", "json", "init", "--host", hostName)
		t.Logf("%s", r)
		if r.code != 0 {
			t.Fatalf("init with acme.directory = \"local\" exited %d, want 0", r.code)
		}
	}) {
		t.FailNow()
	}

	rootPEM, err := os.ReadFile(e.host.Path(localCARoot))
	if err != nil {
		t.Fatalf("the local CA's root: %v", err)
	}
	e.roots = x509.NewCertPool() // only the local root from here on
	if !e.roots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("%s holds no PEM certificate", localCARoot)
	}

	t.Run("6_https_verifies_against_local_root", func(t *testing.T) {
		d := &net.Dialer{Timeout: 10 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp4", "127.0.0.1:443", &tls.Config{ServerName: domain, RootCAs: e.roots})
		if err != nil {
			t.Fatalf("TLS to 127.0.0.1:443 (SNI %s) with only %s trusted: %v", domain, localCARoot, err)
		}
		leaf := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		if err := leaf.VerifyHostname(domain2); err != nil {
			t.Errorf("certificate does not cover %s: %v", domain2, err)
		}
		want, _ := os.ReadFile(filepath.Join(e.frontend, "index.html"))
		resp, body := get(t, e, "GET", "https://"+domain+"/", nil, nil)
		if resp.StatusCode != 200 || string(body) != string(want) {
			t.Errorf("GET https://%s/: %s %q; want 200 with index.html", domain, resp.Status, trunc(body))
		}
	})

	t.Run("ca_key_private", func(t *testing.T) {
		entries, err := os.ReadDir(e.host.Path(localCADir))
		if err != nil {
			t.Fatal(err)
		}
		keys := 0
		for _, de := range entries {
			if !strings.Contains(de.Name(), "key") {
				continue
			}
			keys++
			fi, err := os.Lstat(e.host.Path(localCADir + "/" + de.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if uid, _ := owner(fi); !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || uid != 0 {
				t.Errorf("%s/%s: mode %v owner %d, want a 0600 file of root's", localCADir, de.Name(), fi.Mode(), uid)
			}
		}
		if keys == 0 {
			t.Errorf("no key file in %s", localCADir)
		}
	})

	t.Run("renewal_keeps_the_root", func(t *testing.T) {
		old := servedSerial(t, e)
		r, cert := e.renew(t, ctx, nil, "--force")
		t.Logf("%s", r)
		if r.code != 0 || cert.Status != "renewed" {
			t.Fatalf("cert renew --force with the local CA: exit %d status %q, want 0 and renewed", r.code, cert.Status)
		}
		if got := servedSerial(t, e); got == old || got != cert.Serial { // verified against the first root
			t.Errorf("served serial %s, want the renewed %s (old %s)", got, cert.Serial, old)
		}
		again, _ := os.ReadFile(e.host.Path(localCARoot))
		if string(again) != string(rootPEM) {
			t.Errorf("%s changed on renewal: the root must be created once", localCARoot)
		}
		if r, cert := e.renew(t, ctx, nil); r.code != 0 || cert.Status != "not_due" {
			t.Errorf("cert renew after the renewal: exit %d status %q, want 0 and not_due\n%s", r.code, cert.Status, r)
		}
	})
}
