package templates

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSiteServes runs the rendered site in a real nginx and checks the
// behaviour DESIGN.md asks for, which `nginx -t` cannot see: SPA fallback,
// real 404s for assets, caching, prefix stripping, proxy headers, the ACME
// path, the redirect, HSTS on every response, HTTP/2 and IPv6.
func TestSiteServes(t *testing.T) {
	for _, mode := range []string{"bootstrap", "tls"} {
		t.Run(mode, func(t *testing.T) { testSiteServes(t, mode == "tls") })
	}
}

func testSiteServes(t *testing.T, withTLS bool) {
	h := newNginxHost(t)
	api := httptest.NewServer(echoBackend("api"))
	defer api.Close()
	auth := httptest.NewServer(echoBackend("auth"))
	defer auth.Close()
	s := h.site
	s.TLS, s.APIUpstream, s.AuthUpstream = withTLS, api.URL, auth.URL
	for name, body := range map[string]string{
		"current/index.html":                   "<!doctype html><title>spa</title>",
		"current/main.dart.js":                 "unhashed()",
		"current/assets/index-B4x9Qe2a.js":     "hashed()",
		"current/.env":                         "SECRET_KEY=leak",
		"acme/.well-known/acme-challenge/tok1": "tok1.thumbprint",
	} {
		writeFile(t, filepath.Join(h.dir, name), body)
	}
	conf, err := RenderSite(s)
	if err != nil {
		t.Fatal(err)
	}
	// The site listens on 80 and 443 of every address; here it gets free
	// loopback ports instead, so the test needs no privileges and cannot
	// collide with a web server on this machine.
	httpPort, httpsPort := freePort(t), freePort(t)
	conf = mustReplace(t, conf, "listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort))
	conf = mustReplace(t, conf, "listen [::]:80;", fmt.Sprintf("listen [::1]:%d;", httpPort))
	if withTLS {
		conf = mustReplace(t, conf, "listen 443 ", fmt.Sprintf("listen 127.0.0.1:%d ", httpsPort))
		conf = mustReplace(t, conf, "listen [::]:443 ", fmt.Sprintf("listen [::1]:%d ", httpsPort))
	}
	h.writeConfig(t, conf)
	h.start(t, httpPort)

	plain := testClient(fmt.Sprintf("127.0.0.1:%d", httpPort), nil)
	app, appScheme := plain, "http"
	if withTLS {
		app, appScheme = testClient(fmt.Sprintf("127.0.0.1:%d", httpsPort), h.certPEM), "https"
	}
	const hsts = "max-age=63072000"
	for _, tc := range []struct {
		path, body, cache string
		status            int
	}{
		{"/", "spa", "no-cache", 200},
		{"/deep/client/route", "spa", "no-cache", 200},
		{"/main.dart.js", "unhashed()", "no-cache", 200},
		{"/assets/index-B4x9Qe2a.js", "hashed()", "public, max-age=31536000, immutable", 200},
		{"/assets/index-Zz9gone0.js", "", "", 404}, // a stale bundle must not get index.html
		{"/missing.css", "", "", 404},
		{"/.env", "", "", 404},
		{"/api/items?x=1", `"path":"/items","query":"x=1"`, "", 200},
		{"/api/missing", "api says 404", "", 404},                           // the backend's answer, never the SPA
		{"/auth/token", `"path":"/token","query":"","who":"auth"`, "", 200}, // JSON keys are sorted
	} {
		resp, body := get(t, app, appScheme+"://shop.test"+tc.path)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
		if tc.cache != "" && resp.Header.Get("Cache-Control") != tc.cache {
			t.Errorf("GET %s Cache-Control = %q, want %q", tc.path, resp.Header.Get("Cache-Control"), tc.cache)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); withTLS != (got == hsts) {
			t.Errorf("GET %s Strict-Transport-Security = %q (TLS %v)", tc.path, got, withTLS)
		}
		if n := len(resp.Header.Values("X-Content-Type-Options")); n != 1 {
			t.Errorf("GET %s has %d X-Content-Type-Options headers, want 1", tc.path, n)
		}
		if withTLS && resp.ProtoMajor != 2 {
			t.Errorf("GET %s over %s, want HTTP/2", tc.path, resp.Proto)
		}
	}

	// Proxy headers as the backend saw them.
	_, body := get(t, app, appScheme+"://www.shop.test/api/echo")
	var seen map[string]string
	if err := json.Unmarshal([]byte(body), &seen); err != nil {
		t.Fatalf("backend answer %q: %v", body, err)
	}
	for k, want := range map[string]string{"host": "www.shop.test", "x-real-ip": "127.0.0.1", "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": appScheme} {
		if seen[k] != want {
			t.Errorf("backend saw %s = %q, want %q", k, seen[k], want)
		}
	}

	// Port 80: the ACME challenge is served as is in both modes; with TLS
	// everything else is redirected.
	resp, body := get(t, plain, "http://shop.test/.well-known/acme-challenge/tok1")
	if resp.StatusCode != 200 || body != "tok1.thumbprint" {
		t.Errorf("ACME challenge = %d %q", resp.StatusCode, body)
	}
	resp, _ = get(t, plain, "http://www.shop.test/deep?q=1")
	if loc := resp.Header.Get("Location"); withTLS != (resp.StatusCode == 301 && loc == "https://www.shop.test/deep?q=1") {
		t.Errorf("http://www.shop.test/deep?q=1 = %d Location %q (TLS %v)", resp.StatusCode, loc, withTLS)
	}

	// The IPv6 listener answers like the IPv4 one.
	port := httpPort
	if withTLS {
		port = httpsPort
	}
	v6 := testClient(fmt.Sprintf("[::1]:%d", port), h.certPEM)
	if resp, body := get(t, v6, appScheme+"://shop.test/"); resp.StatusCode != 200 || !strings.Contains(body, "spa") {
		t.Errorf("over IPv6: %d %q", resp.StatusCode, body)
	}
}

// start runs nginx in the foreground and stops it (only this process) when
// the test ends.
func (h *nginxHost) start(t *testing.T, readyPort int) {
	t.Helper()
	cmd := exec.Command(h.bin, "-c", h.conf, "-p", h.dir, "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT) // graceful stop of our own master
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(h.dir, "logs", "error.log"))
			t.Fatalf("nginx exited: %v\n%s", err, log)
		default:
		}
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", readyPort)); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx did not start listening within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// echoBackend answers with what it received, as JSON, and a 404 for
// /missing, so tests see exactly what nginx forwarded.
func echoBackend(who string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.Error(w, who+" says 404", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff") // as the auth server does
		json.NewEncoder(w).Encode(map[string]string{
			"who": who, "path": r.URL.Path, "query": r.URL.RawQuery, "host": r.Host,
			"x-real-ip": r.Header.Get("X-Real-IP"), "x-forwarded-for": r.Header.Get("X-Forwarded-For"),
			"x-forwarded-proto": r.Header.Get("X-Forwarded-Proto"),
		})
	})
}

// testClient sends every request to addr whatever the URL's host, trusts
// only certPEM, and does not follow redirects.
func testClient(addr string, certPEM []byte) *http.Client {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp, string(body)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// mustReplace fails when old is absent, so a template change cannot make
// the test silently bind the real ports 80 and 443.
func mustReplace(t *testing.T, conf []byte, old, new string) []byte {
	t.Helper()
	if !strings.Contains(string(conf), old) {
		t.Fatalf("rendered site has no %q", old)
	}
	return []byte(strings.ReplaceAll(string(conf), old, new))
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
