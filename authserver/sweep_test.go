package authserver

import (
	"net/url"
	"sort"
	"testing"
	"time"
)

// Expired sessions and their token history are deleted by the periodic
// sweep that logins and refreshes trigger.
func TestSweepDeletesExpiredSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b string) {
		e := newEnvOn(t, b, func(o *Options) {
			o.RefreshTTL = time.Hour
			o.SessionMaxAge = 2 * time.Hour
		})
		old := e.login().RefreshToken
		e.mustRefresh(old)
		e.clock.Advance(3 * time.Hour)
		e.login() // triggers the sweep: the first session is past its age
		if n := queryInt(t, e.st, `SELECT COUNT(*) FROM myapp_auth_sessions`); n != 1 {
			t.Errorf("%d sessions left, want only the new one", n)
		}
		if n := queryInt(t, e.st, `SELECT COUNT(*) FROM myapp_auth_refresh_tokens`); n != 1 {
			t.Errorf("%d refresh tokens left, want only the new one", n)
		}
		resp, body := e.refresh(old)
		wantError(t, resp, body, 401, "invalid_grant")
	})
}

// An unknown username costs the same Argon2id run as a wrong password, so
// response times do not tell which names exist. The bound is loose: the
// machine is shared and noisy, and a skipped hash would be 30x faster.
func TestLoginTimingDoesNotRevealUsers(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.UserLimit.Burst, o.IPLimit.Burst = -1, -1 })
	median := func(user string) time.Duration {
		var ds []time.Duration
		for range 7 {
			start := time.Now()
			resp, body := e.postForm("/token", url.Values{"username": {user}, "password": {"not the password"}})
			ds = append(ds, time.Since(start))
			wantError(t, resp, body, 401, "invalid_grant")
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	known, unknown := median(testUser), median("nobody-by-this-name")
	if ratio := float64(known) / float64(unknown); ratio < 1/3.0 || ratio > 3 {
		t.Errorf("wrong password takes %v, unknown user %v: distinguishable", known, unknown)
	}
}
