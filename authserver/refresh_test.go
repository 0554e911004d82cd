package authserver

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestRefreshRotatesFromEveryPlace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		tok := e.login().RefreshToken
		send := map[string]func(string) (*http.Response, []byte){
			"json": e.refresh,
			"form": func(tok string) (*http.Response, []byte) {
				return e.postForm("/token/refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}})
			},
			"cookie": func(tok string) (*http.Response, []byte) {
				return e.do("POST", "/token/refresh", "", "", "Cookie", cookieName+"="+tok)
			},
			"cookie beside a text body": func(tok string) (*http.Response, []byte) {
				return e.do("POST", "/token/refresh", "text/plain", "hello", "Cookie", cookieName+"="+tok)
			},
		}
		for name, refresh := range send {
			resp, body := refresh(tok)
			tr := mustTokens(t, resp, body)
			if tr.RefreshToken == tok {
				t.Fatalf("%s: refresh token not rotated", name)
			}
			if c := refreshCookie(resp); c == nil || c.Value != tr.RefreshToken {
				t.Fatalf("%s: cookie not updated", name)
			}
			if resp, body := e.me(tr.AccessToken); resp.StatusCode != 200 {
				t.Fatalf("%s: new access token refused: %s", name, body)
			}
			tok = tr.RefreshToken
			e.clock.Advance(time.Minute) // past the grace window of the previous rotation
		}
	})
}

func TestRefreshMissingOrGarbage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		resp, body := e.do("POST", "/token/refresh", "", "")
		wantError(t, resp, body, http.StatusBadRequest, "invalid_request")
		resp, body = e.postJSON("/token/refresh", map[string]string{})
		wantError(t, resp, body, http.StatusBadRequest, "invalid_request")
		for _, tok := range []string{"garbage", newRefreshToken()} {
			resp, body = e.do("POST", "/token/refresh", "", "", "Cookie", cookieName+"="+tok)
			wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
			if c := refreshCookie(resp); c == nil || c.MaxAge >= 0 {
				t.Errorf("dead cookie not cleared")
			}
		}
	})
}

// An old token presented after the grace window means the session was
// copied: the whole session dies, including the legitimate successor.
func TestRefreshReuseAfterGraceRevokesSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		old := e.login().RefreshToken
		next := e.mustRefresh(old)
		e.clock.Advance(11 * time.Second)

		resp, body := e.refresh(old)
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
		resp, body = e.refresh(next.RefreshToken)
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
		if n := queryInt(t, e.st, `SELECT COUNT(*) FROM myapp_auth_sessions WHERE revoked_at IS NOT NULL
			AND revoke_reason = 'refresh token reuse'`); n != 1 {
			t.Errorf("%d sessions revoked for reuse, want 1", n)
		}
		// Other sessions of the user are not affected.
		e.mustRefresh(e.login().RefreshToken)
	})
}

// Two tabs refreshing at once: the second gets the first one's successor
// and the session lives on.
func TestRefreshDuplicateInGraceGetsSameSuccessor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		old := e.login().RefreshToken
		first := e.mustRefresh(old)
		e.clock.Advance(9 * time.Second)
		resp, body := e.refresh(old)
		second := mustTokens(t, resp, body)
		if second.RefreshToken != first.RefreshToken {
			t.Fatal("duplicate refresh inside the grace window got a different successor")
		}
		if c := refreshCookie(resp); c == nil || c.Value != first.RefreshToken {
			t.Error("duplicate refresh did not set the successor cookie")
		}
		e.mustRefresh(second.RefreshToken)
	})
}

func TestRefreshGraceDisabled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b, func(o *Options) { o.Grace = -1 })
		old := e.login().RefreshToken
		next := e.mustRefresh(old)
		resp, body := e.refresh(old)
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
		resp, body = e.refresh(next.RefreshToken)
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
	})
}

// The sealed successor must not hold the token in clear, and must be
// wiped once its grace window is over.
func TestSuccessorSealedThenWiped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		old := e.login().RefreshToken
		next := e.mustRefresh(old).RefreshToken
		var sealed []byte
		if err := e.st.r.QueryRow(e.st.d.q(`SELECT successor FROM myapp_auth_refresh_tokens WHERE token_hash = ?`),
			hashRefreshToken(old)).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if len(sealed) == 0 || bytes.Contains(sealed, []byte(next)) {
			t.Fatalf("successor stored as %q", sealed)
		}
		e.clock.Advance(time.Minute)
		e.mustRefresh(next)
		if n := queryInt(t, e.st, `SELECT COUNT(*) FROM myapp_auth_refresh_tokens WHERE successor IS NOT NULL`); n != 1 {
			t.Errorf("%d sealed successors, want only the latest", n)
		}
	})
}

func TestRefreshExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b, func(o *Options) {
			o.RefreshTTL = time.Hour
			o.SessionMaxAge = 3 * time.Hour
		})
		tok := e.login().RefreshToken
		e.clock.Advance(61 * time.Minute)
		resp, body := e.refresh(tok)
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")

		// Refreshing keeps a session alive, but not past its absolute age.
		tok = e.login().RefreshToken
		for range 3 {
			e.clock.Advance(50 * time.Minute)
			tok = e.mustRefresh(tok).RefreshToken
		}
		e.clock.Advance(50 * time.Minute) // 200 min after login: inside the idle limit, past the session's
		resp, body = e.refresh(tok)
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
	})
}

func TestLogout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		tr := e.login()
		resp, body := e.do("POST", "/logout", "", "", "Cookie", cookieName+"="+tr.RefreshToken)
		if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
			t.Fatalf("logout: %d %s", resp.StatusCode, body)
		}
		if c := refreshCookie(resp); c == nil || c.MaxAge >= 0 || c.Path != cookiePath {
			t.Errorf("logout did not clear the cookie: %v", resp.Header.Values("Set-Cookie"))
		}
		resp, body = e.refresh(tr.RefreshToken)
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")

		// Idempotent: again, unknown, garbage, nothing at all.
		for _, body := range []string{
			`{"refresh_token":"` + tr.RefreshToken + `"}`, `{"refresh_token":"` + newRefreshToken() + `"}`,
			`{"refresh_token":"x"}`, ``,
		} {
			if resp, b := e.do("POST", "/logout", "application/json", body); resp.StatusCode != http.StatusNoContent {
				t.Errorf("logout %s: %d %s", body, resp.StatusCode, b)
			}
		}
	})
}

// TestLogoutWithAccessToken: a client that presents only its access token
// ends that session (and only it); a bad access token is refused.
func TestLogoutWithAccessToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		tr, other := e.login(), e.login()
		resp, body := e.do("POST", "/logout", "", "", "Authorization", "Bearer "+tr.AccessToken)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout with the access token: %d %s", resp.StatusCode, body)
		}
		resp, body = e.refresh(tr.RefreshToken)
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
		e.mustRefresh(other.RefreshToken) // another session of the same user lives on

		resp, body = e.do("POST", "/logout", "", "", "Authorization", "Bearer "+tr.AccessToken[:len(tr.AccessToken)-2]+"xx")
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	})
}

func TestPasswordChangeRevokesSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		tr := e.login()
		if err := e.st.SetPassword(t.Context(), testUser, "a brand new password"); err != nil {
			t.Fatal(err)
		}
		resp, body := e.refresh(tr.RefreshToken)
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
		resp, body = e.postForm("/token", url.Values{"username": {testUser}, "password": {testPassword}})
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
		resp, body = e.postForm("/token", url.Values{"username": {testUser}, "password": {"a brand new password"}})
		mustTokens(t, resp, body)
	})
}

func TestDisabledUserLosesSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		tr := e.login()
		if err := e.st.DisableUser(t.Context(), testUser); err != nil {
			t.Fatal(err)
		}
		resp, body := e.refresh(tr.RefreshToken)
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
		resp, body = e.postForm("/token", url.Values{"username": {testUser}, "password": {testPassword}})
		wantError(t, resp, body, http.StatusUnauthorized, "invalid_grant")
	})
}

// A login whose password check read the user before a password change
// must not create a session after it.
func TestLoginRacingPasswordChangeLoses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		p, err := e.st.authenticate(t.Context(), testUser, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.SetPassword(t.Context(), testUser, "changed meanwhile"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.createSession(t.Context(), p, e.srv.policy()); err != errUserChanged {
			t.Fatalf("createSession after password change: %v, want errUserChanged", err)
		}
	})
}
