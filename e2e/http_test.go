package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/myapp/myapp/internal/testenv"
)

// get fetches url with the test client and returns the response and body.
func get(t *testing.T, e *env, method, url string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, b
}

// servedCert connects to the host's port 443 with SNI shop.test, verifies
// the chain against Pebble's issuing root and the name, and returns the leaf.
func servedCert(t *testing.T, e *env) *x509.Certificate {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp4", "127.0.0.1:443", &tls.Config{ServerName: domain, RootCAs: e.roots})
	if err != nil {
		t.Fatalf("TLS to 127.0.0.1:443 (SNI %s) against Pebble's root: %v", domain, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// testHTTPS: https://shop.test/ serves the frontend's index.html with a
// certificate that chains to Pebble's issuing root and matches both names.
func testHTTPS(t *testing.T, e *env) string {
	leaf := servedCert(t, e)
	for _, name := range []string{domain, domain2} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate does not cover %s: %v", name, err)
		}
	}
	want, err := os.ReadFile(filepath.Join(e.frontend, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"https://" + domain + "/", "https://" + domain2 + "/"} {
		resp, body := get(t, e, "GET", url, nil, nil)
		if resp.StatusCode != 200 || string(body) != string(want) {
			t.Errorf("GET %s: %s, body %q; want 200 with testdata/frontend/index.html", url, resp.Status, trunc(body))
		}
		if resp.ProtoMajor != 2 {
			t.Errorf("GET %s: %s, want HTTP/2", url, resp.Proto)
		}
		if !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("GET %s: no HSTS header", url)
		}
	}
	return leaf.SerialNumber.String()
}

// testRouting: SPA fallback for client routes, a real 404 for missing
// assets, /api/ proxied with the prefix stripped, HTTP redirected to HTTPS.
func testRouting(t *testing.T, e *env) {
	index, _ := os.ReadFile(filepath.Join(e.frontend, "index.html"))
	base := "https://" + domain

	t.Run("client_route", func(t *testing.T) {
		resp, body := get(t, e, "GET", base+"/some/client/route", nil, nil)
		if resp.StatusCode != 200 || string(body) != string(index) {
			t.Errorf("GET /some/client/route: %s %q; want 200 index.html", resp.Status, trunc(body))
		}
	})
	t.Run("asset", func(t *testing.T) {
		want, _ := os.ReadFile(filepath.Join(e.frontend, "assets", "app.1234abcd.js"))
		resp, body := get(t, e, "GET", base+"/assets/app.1234abcd.js", nil, nil)
		if resp.StatusCode != 200 || string(body) != string(want) {
			t.Errorf("GET /assets/app.1234abcd.js: %s %q", resp.Status, trunc(body))
		}
	})
	t.Run("missing_asset_404", func(t *testing.T) {
		for _, p := range []string{"/missing.js", "/assets/app.00000000.js", "/missing.css", "/missing.png"} {
			resp, body := get(t, e, "GET", base+p, nil, nil)
			if resp.StatusCode != 404 {
				t.Errorf("GET %s: %s %q; want 404", p, resp.Status, trunc(body))
			}
		}
	})
	t.Run("api_proxied_prefix_stripped", func(t *testing.T) {
		resp, body := get(t, e, "POST", base+"/api/ping?x=1", strings.NewReader(`{"a":1}`),
			map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != 200 || resp.Header.Get("X-Stub-Backend") != "1" {
			t.Fatalf("POST /api/ping: %s %q; want 200 from the stub backend", resp.Status, trunc(body))
		}
		var echo testenv.Echo
		if err := json.Unmarshal(body, &echo); err != nil {
			t.Fatalf("stub answer: %v: %s", err, body)
		}
		h := http.Header(echo.Headers)
		switch {
		case echo.Path != "/ping":
			t.Errorf("backend saw path %q, want /ping (prefix stripped)", echo.Path)
		case echo.Method != "POST" || echo.RawQuery != "x=1" || echo.Body != `{"a":1}`:
			t.Errorf("backend saw %s ?%s body %q", echo.Method, echo.RawQuery, echo.Body)
		}
		if echo.Host != domain {
			t.Errorf("backend saw Host %q, want %q", echo.Host, domain)
		}
		if h.Get("X-Forwarded-Proto") != "https" {
			t.Errorf("X-Forwarded-Proto = %q, want https", h.Get("X-Forwarded-Proto"))
		}
		if !strings.Contains(h.Get("X-Forwarded-For"), "127.0.0.1") || h.Get("X-Real-Ip") != "127.0.0.1" {
			t.Errorf("X-Forwarded-For = %q, X-Real-IP = %q; want the client 127.0.0.1", h.Get("X-Forwarded-For"), h.Get("X-Real-Ip"))
		}
	})
	t.Run("api_never_spa", func(t *testing.T) {
		// Whatever the backend says, /api/ must not be answered with index.html.
		_, body := get(t, e, "GET", base+"/api/missing.js", nil, nil)
		if strings.Contains(string(body), "myapp-e2e-marker") {
			t.Errorf("/api/missing.js answered with the SPA index")
		}
	})
	t.Run("http_redirects_to_https", func(t *testing.T) {
		resp, _ := get(t, e, "GET", "http://"+domain+"/x?y=1", nil, nil)
		if resp.StatusCode != 301 && resp.StatusCode != 308 {
			t.Errorf("GET http://%s/x: %s, want 301 or 308", domain, resp.Status)
		}
		if loc := resp.Header.Get("Location"); loc != "https://"+domain+"/x?y=1" {
			t.Errorf("Location %q, want https://%s/x?y=1", loc, domain)
		}
	})
	t.Run("acme_challenge_not_redirected", func(t *testing.T) {
		resp, _ := get(t, e, "GET", "http://"+domain+"/.well-known/acme-challenge/e2e-probe", nil, nil)
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			t.Errorf("GET http://%s/.well-known/acme-challenge/...: %s; the challenge path must stay on HTTP", domain, resp.Status)
		}
	})
}

func owner(fi os.FileInfo) (uid, gid uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return 1<<32 - 1, 1<<32 - 1
}

func trunc(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
