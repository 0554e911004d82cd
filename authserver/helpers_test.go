package authserver

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// fakeClock lets tests step over grace windows and expiries without
// sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a running server on a real SQLite file, reached over real HTTP.
type env struct {
	t     *testing.T
	st    *Store
	srv   *Server
	ts    *httptest.Server
	clock *fakeClock
}

func openTestStore(t *testing.T) *Store { return openTestStoreOn(t, "sqlite") }

// newEnv is newEnvOn with SQLite.
func newEnv(t *testing.T, modify ...func(*Options)) *env {
	t.Helper()
	return newEnvOn(t, "sqlite", modify...)
}

// newEnvOn starts a server on a fresh database of the given backend with
// the user alice, served with the production http.Server limits.
func newEnvOn(t *testing.T, backend string, modify ...func(*Options)) *env {
	t.Helper()
	st := openTestStoreOn(t, backend)
	if err := st.AddUser(t.Context(), testUser, testPassword); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Now()}
	opts := Options{
		SecretKey: testSecret,
		Issuer:    "myapp/test",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:       clock.Now,
	}
	for _, m := range modify {
		m(&opts)
	}
	srv, err := New(opts, st)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st, srv: srv, ts: startServer(t, srv), clock: clock}
}

// startServer serves srv on a loopback port, with the production limits.
func startServer(t *testing.T, srv *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = newHTTPServer(srv.Handler())
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// with returns an env that talks to srv (on the same database and clock),
// as after a restart with other options.
func (e *env) with(srv *Server) *env {
	return &env{t: e.t, st: e.st, srv: srv, ts: startServer(e.t, srv), clock: e.clock}
}

// do sends a request and returns the response with its body read.
func (e *env) do(method, path, contentType, body string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func (e *env) postForm(path string, v url.Values, hdr ...string) (*http.Response, []byte) {
	return e.do("POST", path, "application/x-www-form-urlencoded", v.Encode(), hdr...)
}

func (e *env) postJSON(path string, v any, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do("POST", path, "application/json", string(b), hdr...)
}

// login logs in as the test user and returns the tokens, failing the test
// on anything but 200.
func (e *env) login() tokenResponse {
	e.t.Helper()
	resp, body := e.postForm("/token", url.Values{"username": {testUser}, "password": {testPassword}})
	return mustTokens(e.t, resp, body)
}

// refresh presents tok in a JSON body.
func (e *env) refresh(tok string) (*http.Response, []byte) {
	e.t.Helper()
	return e.postJSON("/token/refresh", map[string]string{"refresh_token": tok})
}

func (e *env) mustRefresh(tok string) tokenResponse {
	e.t.Helper()
	resp, body := e.refresh(tok)
	return mustTokens(e.t, resp, body)
}

func (e *env) me(access string) (*http.Response, []byte) {
	e.t.Helper()
	return e.do("GET", "/me", "", "", "Authorization", "Bearer "+access)
}

func mustTokens(t *testing.T, resp *http.Response, body []byte) tokenResponse {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", resp.StatusCode, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if tr.AccessToken == "" || tr.RefreshToken == "" || tr.TokenType != "bearer" {
		t.Fatalf("incomplete token response %s", body)
	}
	return tr
}

// wantError checks a JSON error answer.
func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	var e struct{ Error, Detail string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if e.Error != code || e.Detail == "" {
		t.Fatalf("error %q detail %q, want %q and a detail", e.Error, e.Detail, code)
	}
}

func refreshCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

// queryInt runs a COUNT-style query on the test database.
func queryInt(t *testing.T, st *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := st.r.QueryRowContext(context.Background(), st.d.q(q), args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
