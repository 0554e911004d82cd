package localca_test

// Real peers: a leaf served by Go's TLS server and by nginx must verify in
// curl (OpenSSL) and in Go's TLS client against the root.pem the CA wrote,
// and must not verify without it.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myapp/myapp/provision/localca"
)

// served are the certificate's names and, for each, a name a client asks for.
var served = []struct{ domain, ask string }{
	{"shop.test", "shop.test"},
	{"*.shop.test", "www.shop.test"},
	{"api.internal", "api.internal"},
	{"app.localhost", "app.localhost"},
}

func servedDomains() []string {
	var ds []string
	for _, s := range served {
		ds = append(ds, s.domain)
	}
	return ds
}

// curl fetches https://name:port/ with name resolved to 127.0.0.1 and
// returns the body, or curl's exit code and message.
func curl(t *testing.T, port, name string, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		requireOrSkip(t, "needs curl (apt-get install curl)")
	}
	argv := append([]string{"-sS", "--fail", "--max-time", "10", "--resolve", name + ":" + port + ":127.0.0.1"}, args...)
	out, err := exec.Command("curl", append(argv, "https://"+name+":"+port+"/")...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	return string(out), nil
}

func curlExitCode(err error) int {
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		return xe.ExitCode()
	}
	return -1
}

// goDial completes a TLS handshake with addr as name, trusting rootPEM only.
func goDial(addr, name string, rootPEM []byte) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12})
	if err != nil {
		return err
	}
	return conn.Close()
}

// checkPeer requires every served name to verify with root.pem in curl and
// Go, and the wrong trust or a wrong name to fail.
func checkPeer(t *testing.T, addr, rootFile, wantBody string) {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	rootPEM, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range served {
		body, err := curl(t, port, s.ask, "--cacert", rootFile)
		if err != nil || !strings.Contains(body, wantBody) {
			t.Errorf("curl --cacert root.pem https://%s: %q, %v", s.ask, body, err)
		}
		if err := goDial(addr, s.ask, rootPEM); err != nil {
			t.Errorf("Go TLS client, %s: %v", s.ask, err)
		}
	}
	// 60 is curl's "peer certificate cannot be authenticated".
	if _, err := curl(t, port, "shop.test"); curlExitCode(err) != 60 {
		t.Errorf("curl with the system roots only: %v, want exit status 60", err)
	}
	if _, err := curl(t, port, "other.test", "--cacert", rootFile); curlExitCode(err) != 60 {
		t.Errorf("curl for a name not on the certificate: %v, want exit status 60", err)
	}
	if err := goDial(addr, "a.b.shop.test", rootPEM); err == nil {
		t.Error("Go TLS client accepted a.b.shop.test, which *.shop.test does not cover")
	}
	otherRoot, _ := newCA(t)
	if err := goDial(addr, "shop.test", otherRoot); err == nil {
		t.Error("Go TLS client accepted the certificate trusting another local CA")
	}
}

func TestServedByGoTLS(t *testing.T) {
	h, d := localHost(t)
	c := obtain(t, localca.New(localca.Options{Dir: d}), h, servedDomains()...)
	pair, err := tls.X509KeyPair(c.Fullchain, c.Key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "go ok")
	}), ErrorLog: log.New(io.Discard, "", 0)} // the failed handshakes are the point of the test
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}}))
	t.Cleanup(func() { srv.Close() })
	checkPeer(t, ln.Addr().String(), filepath.Join(d, localca.RootFile), "go ok")
}

// nginx reads the PEM files as myapp installs them: the leaf alone as the
// chain, a PKCS#8 key.
func TestServedByNginx(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		requireOrSkip(t, "needs nginx (apt-get install nginx-light)")
	}
	h, d := localHost(t)
	for _, keyType := range []string{"ec256", "ec384", "rsa2048"} {
		t.Run(keyType, func(t *testing.T) {
			c := obtain(t, localca.New(localca.Options{Dir: d, KeyType: keyType}), h, servedDomains()...)
			addr := startNginx(t, nginx, c.Fullchain, c.Key)
			checkPeer(t, addr, filepath.Join(d, localca.RootFile), "nginx ok")
		})
	}
}

// startNginx runs nginx in the foreground on a free loopback port with the
// given certificate and returns its address; the test stops it.
func startNginx(t *testing.T, nginx string, chain, key []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fullchain.pem"), chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "privkey.pem"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen %[2]s ssl;
        ssl_certificate %[1]s/fullchain.pem;
        ssl_certificate_key %[1]s/privkey.pem;
        location / { return 200 "nginx ok\n"; }
    }
}
`, dir, addr)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // the nginx this test started, by its pid
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			return addr
		}
		select {
		case <-exited:
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s%s", waitErr, stderr.String(), errLog)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 10s", addr)
		}
	}
}
