package templates

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// nginxHost is a throwaway nginx setup in a temp dir: a main config that
// includes the rendered site, with pid, logs and temp paths of its own, so
// the test touches nothing of the machine's nginx.
type nginxHost struct {
	bin, dir, conf string
	site           Site   // Root, Webroot, CertFile, KeyFile point into dir
	certPEM        []byte // the self-signed certificate, for clients to trust
}

func newNginxHost(t *testing.T) *nginxHost {
	t.Helper()
	bin := requireTool(t, "nginx")
	dir := t.TempDir()
	h := &nginxHost{bin: bin, dir: dir, conf: filepath.Join(dir, "nginx.conf")}
	for _, d := range []string{"current", "acme/.well-known/acme-challenge", "certs", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.site = Site{
		App:          "shop",
		Domains:      []string{"shop.test", "www.shop.test"},
		Root:         filepath.Join(dir, "current"),
		Webroot:      filepath.Join(dir, "acme"),
		APIUpstream:  "http://127.0.0.1:8000",
		AuthUpstream: "http://127.0.0.1:9000",
		CertFile:     filepath.Join(dir, "certs", "fullchain.pem"),
		KeyFile:      filepath.Join(dir, "certs", "privkey.pem"),
		NginxVersion: installedNginxVersion(t, bin),
	}
	h.certPEM = writeSelfSigned(t, h.site.CertFile, h.site.KeyFile, h.site.Domains)
	return h
}

// installedNginxVersion asks the binary, as init does on a host.
func installedNginxVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "-v").CombinedOutput()
	m := regexp.MustCompile(`nginx/([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("nginx -v: %v: %s", err, out)
	}
	return string(m[1])
}

// writeConfig writes the main config around site (the rendered site).
func (h *nginxHost) writeConfig(t *testing.T, site []byte) {
	t.Helper()
	sitePath := filepath.Join(h.dir, "site.conf")
	if err := os.WriteFile(sitePath, site, 0o644); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers would otherwise run as nobody, who cannot enter the 0700
		// temp dir holding the web root.
		user = "user root;"
	}
	var temps strings.Builder
	for _, kind := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&temps, "    %s_temp_path %s;\n", kind, filepath.Join(h.dir, kind))
	}
	conf := fmt.Sprintf(`%s
pid %[2]s/nginx.pid;
error_log %[2]s/logs/error.log;
worker_processes 1;
events { worker_connections 64; }
http {
    types {
        text/html html;
        text/css css;
        application/javascript js;
        application/json json;
        text/plain txt;
    }
    default_type application/octet-stream;
    access_log %[2]s/logs/access.log;
%[3]s    include %[4]s;
}
`, user, h.dir, temps.String(), sitePath)
	if err := os.WriteFile(h.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// test runs `nginx -t` and returns its output and whether it passed. A
// warning counts as a failure: nginx prints it on every reload on the host.
func (h *nginxHost) test(t *testing.T) (string, bool) {
	t.Helper()
	out, err := exec.Command(h.bin, "-t", "-c", h.conf, "-p", h.dir).CombinedOutput()
	s := string(out)
	return s, err == nil && !strings.Contains(s, "[warn]") && !strings.Contains(s, "[emerg]")
}

// writeSelfSigned creates a P-256 certificate and key like the ones the
// site will get from the CA, and returns the certificate PEM.
func writeSelfSigned(t *testing.T, certFile, keyFile string, names []string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certPEM
}

// TestNginxAcceptsSite runs the installed nginx's own config test on both
// modes, rendered for the installed version, as init does before a reload.
func TestNginxAcceptsSite(t *testing.T) {
	for _, mode := range []string{"bootstrap", "tls"} {
		t.Run(mode, func(t *testing.T) {
			h := newNginxHost(t)
			s := h.site
			s.TLS = mode == "tls"
			conf, err := RenderSite(s)
			if err != nil {
				t.Fatal(err)
			}
			h.writeConfig(t, conf)
			if out, ok := h.test(t); !ok {
				t.Fatalf("nginx %s -t rejects the %s site:\n%s", s.NginxVersion, mode, out)
			}
		})
	}
}

// TestNginxRejectsOtherVersionSite is the control for the test above: the
// HTTP/2 spelling rendered for the other side of 1.25.1 must fail (unknown
// directive) or warn (deprecated), so a passing nginx -t means something.
func TestNginxRejectsOtherVersionSite(t *testing.T) {
	h := newNginxHost(t)
	s := h.site
	s.TLS = true
	installed, _ := parseVersion(s.NginxVersion)
	if versionAtLeast(installed, http2OnSince) {
		s.NginxVersion = "1.22.1"
	} else {
		s.NginxVersion = "1.26.3"
	}
	conf, err := RenderSite(s)
	if err != nil {
		t.Fatal(err)
	}
	h.writeConfig(t, conf)
	if out, ok := h.test(t); ok {
		t.Fatalf("nginx accepted a site rendered for nginx %s without complaint:\n%s", s.NginxVersion, out)
	} else {
		t.Logf("as expected, nginx said:\n%s", out)
	}
}
