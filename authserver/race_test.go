package authserver

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Refreshes racing a logout, a logout of all sessions, a password change
// or a disable lose: once the change has returned, no refresh token of
// the session works, whether it was issued before the change, by a
// refresh running alongside it, or is presented afterwards. No racing
// refresh sees anything but 200 or 401.
func TestRefreshRacingRevocationLoses(t *testing.T) {
	changes := []struct {
		name   string
		change func(e *env, first string) error
	}{
		{"logout", func(e *env, first string) error {
			_, err := e.st.revokeByToken(e.t.Context(), first, e.clock.Now())
			return err
		}},
		{"logout all", func(e *env, _ string) error { return e.st.RevokeSessions(e.t.Context(), testUser) }},
		{"password change", func(e *env, _ string) error {
			return e.st.SetPassword(e.t.Context(), testUser, "another good password")
		}},
		{"disable", func(e *env, _ string) error { return e.st.DisableUser(e.t.Context(), testUser) }},
	}
	forEachBackend(t, func(t *testing.T, b string) {
		for _, c := range changes {
			t.Run(c.name, func(t *testing.T) {
				e := newEnvOn(t, b)
				first := e.login().RefreshToken
				var mu sync.Mutex
				issued := []string{first}
				var failures []string
				refresh := func(tok string) (int, string) {
					resp, err := e.ts.Client().Post(e.ts.URL+"/token/refresh", "application/json",
						strings.NewReader(`{"refresh_token":"`+tok+`"}`))
					if err != nil {
						return 0, err.Error()
					}
					defer resp.Body.Close()
					raw, _ := io.ReadAll(resp.Body)
					var tr tokenResponse
					json.Unmarshal(raw, &tr)
					if resp.StatusCode == http.StatusOK {
						return 200, tr.RefreshToken
					}
					return resp.StatusCode, string(raw)
				}
				// Each worker refreshes until the change stops it (401).
				// rounds only bounds a run where the change never lands: it
				// must outlast a password change's Argon2id hash (~30 ms, more
				// on a busy machine) at ~0.1 ms a rotation on SQLite.
				const workers, rounds = 6, 2000
				progress := make(chan struct{}, workers*rounds)
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						cur := first
						for range rounds {
							status, out := refresh(cur)
							switch status {
							case 200:
								mu.Lock()
								issued = append(issued, out)
								mu.Unlock()
								cur = out
								progress <- struct{}{}
							case 401:
								return // the session is gone: the expected end
							default:
								mu.Lock()
								failures = append(failures, fmt.Sprintf("%d %s", status, out))
								mu.Unlock()
								return
							}
						}
					})
				}
				for range 3 { // let the chain get going
					select {
					case <-progress:
					case <-time.After(30 * time.Second):
						t.Fatal("no refresh succeeded")
					}
				}
				if err := c.change(e, first); err != nil {
					t.Fatal(err)
				}
				wg.Wait()
				t.Logf("%d refreshes succeeded around the %s", len(issued)-1, c.name)
				if len(issued)-1 >= workers*rounds {
					t.Errorf("every refresh succeeded: the %s came after them all, nothing raced", c.name)
				}
				if len(failures) > 0 {
					t.Fatalf("refreshes racing the %s failed otherwise than with 401: %v", c.name, failures)
				}
				for _, tok := range issued {
					if status, out := refresh(tok); status != 401 {
						t.Fatalf("after the %s, a refresh token of the session gives %d %s (of %d issued)", c.name, status, out, len(issued))
					}
				}
				if n := queryInt(t, e.st, `SELECT COUNT(*) FROM myapp_auth_sessions WHERE revoked_at IS NULL`); n != 0 {
					t.Errorf("%d sessions still live after the %s", n, c.name)
				}
			})
		}
	})
}

// The database never holds a refresh or access token, only SHA-256
// hashes of refresh tokens (and successors sealed under a key derived
// from their predecessor): a copy of it logs nobody in.
func TestDatabaseHoldsNoTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b)
		a := e.login()
		a2 := e.mustRefresh(a.RefreshToken)
		a3 := e.mustRefresh(a.RefreshToken) // duplicate in the grace window: a successor is sealed
		other := e.login()
		e.postJSON("/logout", map[string]string{"refresh_token": other.RefreshToken})
		var secrets []string
		for _, tr := range []tokenResponse{a, a2, a3, other} {
			secrets = append(secrets, tr.RefreshToken, tr.AccessToken)
			raw, err := tokenEnc.DecodeString(tr.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, string(raw))
		}
		for _, table := range []string{"myapp_auth_users", "myapp_auth_sessions", "myapp_auth_refresh_tokens"} {
			rows, err := e.st.r.Query(`SELECT * FROM ` + table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			n := 0
			for rows.Next() {
				n++
				vals := make([]sql.RawBytes, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					for _, s := range secrets {
						if bytes.Contains(v, []byte(s)) {
							t.Errorf("%s.%s holds a token", table, cols[i])
						}
					}
				}
			}
			rows.Close()
			if n == 0 {
				t.Errorf("%s is empty: nothing was checked", table)
			}
		}
		if n := queryInt(t, e.st, `SELECT COUNT(*) FROM myapp_auth_refresh_tokens WHERE token_hash = ?`,
			hashRefreshToken(a2.RefreshToken)); n != 1 {
			t.Errorf("current token found by its hash %d times, want 1", n)
		}
	})
}
