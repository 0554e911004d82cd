package dnsproviders

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The tests here drive the escape-hatch providers against real peers: a
// program that lego runs (exec) and an HTTP server (httpreq). rfc2136 has its
// own file. Each checks what the peer received, not what lego meant to send.

const (
	testDomain  = "shop.example.test"
	testToken   = "token-123"
	testKeyAuth = "token-123.thumbprint-abc"
)

// wantValue is the DNS-01 TXT value for keyAuth (RFC 8555 section 8.4),
// computed here independently of lego.
func wantValue(keyAuth string) string {
	sum := sha256.Sum256([]byte(keyAuth))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestExecProviderRunsProgram(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	script := filepath.Join(dir, "dns-hook")
	// The way a user's hook would look: it gets the action, the record name
	// and the value as arguments. This one only records them.
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> \""+log+"\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EXEC_PATH", script)
	t.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true")

	p, err := New("exec")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Present(testDomain, testToken, testKeyAuth); err != nil {
		t.Fatalf("Present: %v", err)
	}
	if err := p.CleanUp(testDomain, testToken, testKeyAuth); err != nil {
		t.Fatalf("CleanUp: %v", err)
	}

	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	v := wantValue(testKeyAuth)
	want := "present _acme-challenge." + testDomain + ". " + v + "\n" +
		"cleanup _acme-challenge." + testDomain + ". " + v + "\n"
	if string(got) != want {
		t.Errorf("program calls:\n%s\nwant:\n%s", got, want)
	}
}

func TestExecProviderReportsProgramFailure(t *testing.T) {
	script := filepath.Join(t.TempDir(), "dns-hook")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'zone locked' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EXEC_PATH", script)
	t.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true")

	p, err := New("exec")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Present(testDomain, testToken, testKeyAuth); err == nil {
		t.Fatal("Present succeeded although the program exited 3")
	}
}

type httpreqCall struct {
	Path  string
	FQDN  string `json:"fqdn"`
	Value string `json:"value"`
	User  string
}

func TestHTTPReqProviderCallsEndpoint(t *testing.T) {
	var (
		mu    sync.Mutex
		calls []httpreqCall
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c httpreqCall
		if r.Method != http.MethodPost {
			http.Error(w, "want POST", http.StatusMethodNotAllowed)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.Path = r.URL.Path
		c.User, _, _ = r.BasicAuth()
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
	}))
	defer srv.Close()
	t.Setenv("HTTPREQ_ENDPOINT", srv.URL+"/dns")
	t.Setenv("HTTPREQ_USERNAME", "myapp")
	t.Setenv("HTTPREQ_PASSWORD", "s3cret")
	t.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true")

	p, err := New("httpreq")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Present(testDomain, testToken, testKeyAuth); err != nil {
		t.Fatalf("Present: %v", err)
	}
	if err := p.CleanUp(testDomain, testToken, testKeyAuth); err != nil {
		t.Fatalf("CleanUp: %v", err)
	}

	fqdn, v := "_acme-challenge."+testDomain+".", wantValue(testKeyAuth)
	want := []httpreqCall{
		{Path: "/dns/present", FQDN: fqdn, Value: v, User: "myapp"},
		{Path: "/dns/cleanup", FQDN: fqdn, Value: v, User: "myapp"},
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(calls, want) {
		t.Errorf("endpoint calls:\n%+v\nwant:\n%+v", calls, want)
	}
}

func TestHTTPReqProviderReportsRefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such zone", http.StatusForbidden)
	}))
	defer srv.Close()
	t.Setenv("HTTPREQ_ENDPOINT", srv.URL)
	t.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true")

	p, err := New("httpreq")
	if err != nil {
		t.Fatal(err)
	}
	err = p.Present(testDomain, testToken, testKeyAuth)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("Present error = %v, want the endpoint's 403", err)
	}
}
