package authserver

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLoginForm(t *testing.T) {
	e := newEnv(t)
	resp, body := e.postForm("/token", url.Values{
		"grant_type": {"password"}, "username": {testUser}, "password": {testPassword}, "scope": {""},
	})
	tr := mustTokens(t, resp, body)
	if tr.ExpiresIn != 900 {
		t.Errorf("expires_in = %d, want 900", tr.ExpiresIn)
	}
	if len(tr.RefreshToken) != refreshTokenLen {
		t.Errorf("refresh token length %d", len(tr.RefreshToken))
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	c := refreshCookie(resp)
	if c == nil {
		t.Fatalf("no %s cookie in %q", cookieName, resp.Header.Values("Set-Cookie"))
	}
	if c.Value != tr.RefreshToken || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/auth/" {
		t.Errorf("cookie %q lacks value or attributes", c.String())
	}
	if c.MaxAge < int((719 * time.Hour).Seconds()) {
		t.Errorf("cookie Max-Age %d, want about 720h", c.MaxAge)
	}
}

func TestLoginJSONAndMultipart(t *testing.T) {
	e := newEnv(t)
	resp, body := e.postJSON("/token", map[string]string{"username": testUser, "password": testPassword})
	mustTokens(t, resp, body)

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("username", testUser)
	mw.WriteField("password", testPassword)
	mw.Close()
	resp, body = e.do("POST", "/token", mw.FormDataContentType(), buf.String())
	mustTokens(t, resp, body)
}

// Wrong password, unknown user and disabled user must be indistinguishable.
func TestLoginFailuresIdentical(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		if err := e.st.AddUser(t.Context(), "bob", testPassword); err != nil {
			t.Fatal(err)
		}
		if err := e.st.DisableUser(t.Context(), "bob"); err != nil {
			t.Fatal(err)
		}
		cases := []url.Values{
			{"username": {testUser}, "password": {"wrong password"}},
			{"username": {"nobody"}, "password": {testPassword}},
			{"username": {"bob"}, "password": {testPassword}},
			{"username": {testUser}, "password": {strings.Repeat("x", maxPasswordLen+1)}},
		}
		var first []byte
		for _, v := range cases {
			resp, body := e.postForm("/token", v)
			wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
			if first == nil {
				first = body
			} else if !bytes.Equal(body, first) {
				t.Errorf("body %s differs from %s", body, first)
			}
			if refreshCookie(resp) != nil {
				t.Errorf("failed login set a cookie")
			}
		}
		if !strings.Contains(string(first), "invalid username or password") {
			t.Errorf("detail: %s", first)
		}
	})
}

func TestLoginBadRequests(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, ct, body string
		status         int
	}{
		{"empty form", "application/x-www-form-urlencoded", "", 400},
		{"no password", "application/json", `{"username":"alice"}`, 400},
		{"wrong JSON type", "application/json", `{"username":1,"password":"x"}`, 400},
		{"trailing JSON", "application/json", `{"username":"a","password":"b"} {}`, 400},
		{"text", "text/plain", "username=alice&password=x", 415},
		{"too big", "application/x-www-form-urlencoded", "username=alice&password=" + strings.Repeat("x", maxBodyBytes), 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do("POST", "/token", tt.ct, tt.body)
			wantError(t, resp, body, tt.status, "invalid_request")
		})
	}
	// Credentials in the query string are not read: URLs end up in logs.
	q := url.Values{"username": {testUser}, "password": {testPassword}}.Encode()
	resp, body := e.do("POST", "/token?"+q, "application/x-www-form-urlencoded", "")
	wantError(t, resp, body, 400, "invalid_request")
}

// A body field of the wrong JSON type is named in plain words: the detail
// never shows the server's Go types.
func TestBodyTypeErrorsNameTheField(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ path, body, want string }{
		{"/token", `{"username":5,"password":"x"}`, "username must be a string, not a number"},
		{"/token", `{"username":"alice","password":true}`, "password must be a string, not true or false"},
		{"/token", `{"username":{"name":"alice"},"password":"x"}`, "username must be a string, not an object"},
		{"/token", `["alice","x"]`, "want an object, got an array"},
		{"/token", `"alice"`, "want an object, got a string"},
		{"/token/refresh", `{"refresh_token":["a","b"]}`, "refresh_token must be a string, not an array"},
		{"/logout", `{"refresh_token":1e999}`, "refresh_token must be a string, not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.body, func(t *testing.T) {
			resp, body := e.do("POST", tt.path, "application/json", tt.body)
			wantError(t, resp, body, http.StatusBadRequest, "invalid_request")
			var got struct{ Detail string }
			json.Unmarshal(body, &got)
			if want := "malformed JSON body: " + tt.want; got.Detail != want {
				t.Errorf("detail %q, want %q", got.Detail, want)
			}
			for _, leak := range []string{"bodyFields", "Go ", "struct", "authserver"} {
				if strings.Contains(got.Detail, leak) {
					t.Errorf("detail shows %q: %s", leak, got.Detail)
				}
			}
		})
	}
}

func TestMe(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		tr := e.login()
		resp, body := e.me(tr.AccessToken)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var me map[string]any
		json.Unmarshal(body, &me)
		if me["sub"] != testUser || me["iss"] != "myapp/test" || me["sid"] == "" {
			t.Errorf("me = %s", body)
		}
		for _, auth := range []string{"", "Basic YWxpY2U6eA==", "Bearer", "Bearer "} {
			resp, body := e.do("GET", "/me", "", "", "Authorization", auth)
			wantError(t, resp, body, 401, "invalid_request")
			if resp.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("%q: WWW-Authenticate %q", auth, resp.Header.Get("WWW-Authenticate"))
			}
		}
		// The refresh token is no access token.
		resp, body = e.me(tr.RefreshToken)
		wantError(t, resp, body, 401, "invalid_token")
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
			t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
		}
	})
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("GET", "/healthz", "", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("healthz %d %s", resp.StatusCode, body)
	}
	e.st.Close()
	resp, body = e.do("GET", "/healthz", "", "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("healthz with closed database: %d %s", resp.StatusCode, body)
	}
}

// A cross-site page must not be able to log a browser in (login CSRF).
func TestCrossOriginRefused(t *testing.T) {
	e := newEnv(t)
	form := url.Values{"username": {testUser}, "password": {testPassword}}
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://evil.example"},
	} {
		resp, body := e.postForm("/token", form, hdr...)
		wantError(t, resp, body, http.StatusForbidden, "invalid_request")
	}
	// The SPA on the same origin passes.
	resp, body := e.postForm("/token", form, "Sec-Fetch-Site", "same-origin")
	mustTokens(t, resp, body)
}

func TestNewValidatesOptions(t *testing.T) {
	st := openTestStore(t)
	for name, o := range map[string]Options{
		"short key":  {SecretKey: []byte("too short")},
		"long grace": {SecretKey: testSecret, Grace: time.Hour},
		"negative":   {SecretKey: testSecret, AccessTTL: -time.Second},
	} {
		if _, err := New(o, st); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := New(Options{SecretKey: testSecret}, nil); err == nil {
		t.Error("nil store accepted")
	}
	s, err := New(Options{SecretKey: testSecret}, st)
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.AccessTTL != 15*time.Minute || s.opts.RefreshTTL != 720*time.Hour || s.opts.Grace != 10*time.Second {
		t.Errorf("defaults: %+v", s.opts)
	}
}

// With every hashing slot taken for too long, a login is told to come
// back rather than left hanging.
func TestLoginBusy(t *testing.T) {
	e := newEnv(t)
	defer func(d time.Duration) { loginTimeout = d }(loginTimeout)
	loginTimeout = 50 * time.Millisecond
	for range cap(e.st.hashes) {
		e.st.hashes <- struct{}{}
	}
	defer func() {
		for range cap(e.st.hashes) {
			<-e.st.hashes
		}
	}()
	resp, body := e.postForm("/token", url.Values{"username": {testUser}, "password": {testPassword}})
	wantError(t, resp, body, http.StatusServiceUnavailable, "temporarily_unavailable")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}

// A wrong method on an API path answers 405 with Allow, an unknown path
// 404, both in the API's JSON error shape and uncacheable, before any
// cross-origin check or body is read.
func TestUnknownPathsAndWrongMethods(t *testing.T) {
	e := newEnv(t)
	access := e.login().AccessToken
	tests := []struct {
		method, path string
		status       int
		allow        string
		hdr          []string
	}{
		{"GET", "/token", 405, "POST", nil},
		{"PUT", "/token", 405, "POST", nil},
		{"PUT", "/token/refresh", 405, "POST", nil},
		{"GET", "/token/refresh", 405, "POST", nil},
		{"DELETE", "/logout", 405, "POST", nil},
		{"GET", "/logout/all", 405, "POST", []string{"Authorization", "Bearer " + access}},
		{"OPTIONS", "/token", 405, "POST", []string{"Origin", "https://evil.example"}},
		{"PUT", "/token", 405, "POST", []string{"Sec-Fetch-Site", "cross-site"}},
		{"POST", "/me", 405, "GET, HEAD", []string{"Authorization", "Bearer " + access}},
		{"DELETE", "/healthz", 405, "GET, HEAD", nil},
		{"GET", "/", 404, "", nil},
		{"GET", "/nope", 404, "", nil},
		{"POST", "/token/", 404, "", nil},
		{"POST", "/auth/token", 404, "", nil}, // the prefix nginx strips
		{"GET", "/me/extra", 404, "", nil},
		{"GET", "/ME", 404, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := e.do(tt.method, tt.path, "application/json", `{"username":"alice"}`, tt.hdr...)
			wantError(t, resp, body, tt.status, "invalid_request")
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" ||
				resp.Header.Get("Pragma") != "no-cache" {
				t.Errorf("headers %v", resp.Header)
			}
			if refreshCookie(resp) != nil {
				t.Error("set a cookie")
			}
		})
	}
	// HEAD is GET without the body, for monitors.
	for _, path := range []string{"/healthz", "/me"} {
		resp, body := e.do("HEAD", path, "", "", "Authorization", "Bearer "+access)
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Errorf("HEAD %s: %d %q", path, resp.StatusCode, body)
		}
	}
	// The routes themselves still answer.
	if resp, body := e.me(access); resp.StatusCode != 200 {
		t.Fatalf("GET /me: %d %s", resp.StatusCode, body)
	}
}

// Every answer is about a secret, or is one: none may be cached, whatever
// its status.
func TestEveryAnswerIsNoStore(t *testing.T) {
	e := newEnv(t)
	tr := e.login()
	type req struct{ method, path, ct, body string }
	for _, r := range []req{
		{"POST", "/token", "application/x-www-form-urlencoded", "username=alice&password=" + url.QueryEscape(testPassword)},
		{"POST", "/token", "application/x-www-form-urlencoded", "username=alice&password=wrong"},
		{"POST", "/token", "text/plain", "x"},
		{"POST", "/token", "application/json", `{"username":"alice","password":"` + strings.Repeat("x", maxBodyBytes) + `"}`},
		{"POST", "/token/refresh", "application/json", `{"refresh_token":"` + tr.RefreshToken + `"}`},
		{"POST", "/token/refresh", "application/json", `{"refresh_token":"nope"}`},
		{"POST", "/token/refresh", "", ""},
		{"GET", "/me", "", ""},
		{"GET", "/healthz", "", ""},
		{"POST", "/logout", "application/json", `{"refresh_token":"` + tr.RefreshToken + `"}`},
		{"GET", "/unknown", "", ""},
		{"GET", "/token", "", ""},
	} {
		resp, _ := e.do(r.method, r.path, r.ct, r.body, "Authorization", "Bearer "+tr.AccessToken)
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
			t.Errorf("%s %s (%d): Cache-Control %q, Pragma %q", r.method, r.path, resp.StatusCode,
				resp.Header.Get("Cache-Control"), resp.Header.Get("Pragma"))
		}
	}
	resp, _ := e.postForm("/token", url.Values{"username": {testUser}, "password": {testPassword}}, "Origin", "https://evil.example")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("cross-origin refusal: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}
