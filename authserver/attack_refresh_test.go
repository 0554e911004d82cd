package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// refreshAttacks abuse refresh tokens and sessions. Where a case holds a
// legitimate session besides, its after-check proves the attack neither
// got in nor, where it should not, broke the session.
func refreshAttacks() []attack {
	var legit string // a session the attacker does not hold, per case
	keepLegit := func(t *testing.T, e *env) { legit = e.login().RefreshToken }
	return []attack{
		{
			name: "access token as refresh token",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				return e.refresh(e.login().AccessToken)
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "invalid refresh token",
		},
		{
			name: "garbage refresh token",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				return e.refresh("'; DROP TABLE myapp_auth_sessions; --")
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "invalid refresh token",
		},
		{
			name: "well-formed unknown refresh token",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				return e.refresh(newRefreshToken())
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "invalid refresh token",
		},
		{
			name: "empty refresh token",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				return e.refresh("")
			},
			status: http.StatusBadRequest, code: "invalid_request", detail: "refresh token is required",
		},
		{
			name: "huge refresh token within the body limit",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				return e.refresh(strings.Repeat("A", 12<<10))
			},
			status: http.StatusUnauthorized, code: "invalid_grant",
		},
		{
			name: "body over the limit",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				return e.refresh(strings.Repeat("A", maxBodyBytes))
			},
			status: http.StatusRequestEntityTooLarge, code: "invalid_request", detail: "too large",
		},
		{
			name: "refresh token in the query string",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				return e.do("POST", "/token/refresh?refresh_token="+e.login().RefreshToken, "", "")
			},
			status: http.StatusBadRequest, code: "invalid_request",
		},
		{
			name: "reuse after rotation revokes the session",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				old := e.login().RefreshToken
				legit = e.mustRefresh(old).RefreshToken
				e.clock.Advance(11 * time.Second) // past the grace window
				return e.refresh(old)
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "already used",
			// The thief's use also kills the legitimate successor.
			after: func(t *testing.T, e *env, _ *http.Response) { sessionDead(t, e, legit) },
		},
		{
			name: "reuse inside the grace window gets the same successor",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				old := e.login().RefreshToken
				legit = e.mustRefresh(old).RefreshToken
				e.clock.Advance(5 * time.Second)
				return e.refresh(old)
			},
			status: http.StatusOK,
			body: func(t *testing.T, b []byte) {
				if !strings.Contains(string(b), `"refresh_token":"`+legit+`"`) {
					t.Errorf("duplicate refresh got another successor: %s", b)
				}
			},
			after: func(t *testing.T, e *env, _ *http.Response) { sessionAlive(t, e, legit) },
		},
		{
			name: "refresh after logout",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				tok := e.login().RefreshToken
				if resp, b := e.postJSON("/logout", map[string]string{"refresh_token": tok}); resp.StatusCode != 204 {
					t.Fatalf("logout: %d %s", resp.StatusCode, b)
				}
				return e.refresh(tok)
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "session revoked",
		},
		{
			name: "refresh after logout of all sessions",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				keepLegit(t, e)
				tr := e.login()
				if resp, b := e.do("POST", "/logout/all", "", "", "Authorization", "Bearer "+tr.AccessToken); resp.StatusCode != 204 {
					t.Fatalf("logout all: %d %s", resp.StatusCode, b)
				}
				return e.refresh(tr.RefreshToken)
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "session revoked",
			after: func(t *testing.T, e *env, _ *http.Response) { sessionDead(t, e, legit) },
		},
		{
			name: "refresh after password change",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				tok := e.login().RefreshToken
				if err := e.st.SetPassword(t.Context(), testUser, "a brand new password"); err != nil {
					t.Fatal(err)
				}
				return e.refresh(tok)
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "session revoked",
		},
		{
			name: "refresh of a disabled user",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				tok := e.login().RefreshToken
				if err := e.st.DisableUser(t.Context(), testUser); err != nil {
					t.Fatal(err)
				}
				return e.refresh(tok)
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "session revoked",
		},
		{
			name: "login of a disabled user looks like a wrong password",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				if err := e.st.DisableUser(t.Context(), testUser); err != nil {
					t.Fatal(err)
				}
				return e.postForm("/token", url.Values{"username": {testUser}, "password": {testPassword}})
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "invalid username or password",
		},
		{
			name: "cross-site cookie refresh",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				keepLegit(t, e)
				return e.do("POST", "/token/refresh", "", "", "Cookie", cookieName+"="+legit, "Sec-Fetch-Site", "cross-site")
			},
			status: http.StatusForbidden, code: "invalid_request", detail: "cross-origin",
			after: func(t *testing.T, e *env, resp *http.Response) {
				if refreshCookie(resp) != nil {
					t.Error("refused request touched the cookie")
				}
				sessionAlive(t, e, legit) // not rotated behind the user's back
			},
		},
		{
			name: "cross-site cookie logout",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				keepLegit(t, e)
				return e.do("POST", "/logout", "", "", "Cookie", cookieName+"="+legit, "Origin", "https://evil.example")
			},
			status: http.StatusForbidden, code: "invalid_request", detail: "cross-origin",
			after: func(t *testing.T, e *env, _ *http.Response) { sessionAlive(t, e, legit) },
		},
		{
			name: "cross-site login",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				return e.postForm("/token", url.Values{"username": {testUser}, "password": {testPassword}},
					"Sec-Fetch-Site", "cross-site")
			},
			status: http.StatusForbidden, code: "invalid_request", detail: "cross-origin",
		},
		{
			name: "logout all without an access token",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				keepLegit(t, e)
				return e.do("POST", "/logout/all", "application/json", `{"refresh_token":"`+legit+`"}`)
			},
			status: http.StatusUnauthorized, code: "invalid_request",
			after: func(t *testing.T, e *env, _ *http.Response) { sessionAlive(t, e, legit) },
		},
		{
			name: "same-origin logout with the cookie",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				keepLegit(t, e)
				return e.do("POST", "/logout", "", "", "Cookie", cookieName+"="+legit, "Sec-Fetch-Site", "same-origin")
			},
			status: http.StatusNoContent, body: wantBodyEmpty,
			after: func(t *testing.T, e *env, _ *http.Response) { sessionDead(t, e, legit) },
		},
	}
}
