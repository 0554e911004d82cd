package authserver

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// tight limits keep the rate-limit cases short.
func tightLimits(o *Options) {
	o.UserLimit = RateLimit{Burst: 3, Every: time.Minute}
	o.IPLimit = RateLimit{Burst: 5, Every: time.Minute}
}

func wrongLogin(e *env, user string, hdr ...string) (*http.Response, []byte) {
	return e.postForm("/token", url.Values{"username": {user}, "password": {"not the password"}}, hdr...)
}

// wantRetryAfter checks a 429's Retry-After: whole seconds, at most the
// refill interval.
func wantRetryAfter(t *testing.T, _ *env, resp *http.Response) {
	t.Helper()
	s, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
}

func loginAttacks() []attack {
	return []attack{
		{
			name: "password guessing hits the per-username limit", opts: tightLimits,
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				for i := range 3 {
					if resp, b := wrongLogin(e, testUser); resp.StatusCode != 401 {
						t.Fatalf("guess %d: %d %s", i, resp.StatusCode, b)
					}
				}
				return wrongLogin(e, testUser)
			},
			status: http.StatusTooManyRequests, code: "too_many_requests", detail: "try again later",
			after: func(t *testing.T, e *env, resp *http.Response) {
				wantRetryAfter(t, e, resp)
				// Even the right password waits: the limit is not an oracle.
				r, b := e.postForm("/token", url.Values{"username": {testUser}, "password": {testPassword}})
				wantError(t, r, b, http.StatusTooManyRequests, "too_many_requests")
				e.clock.Advance(time.Minute)
				e.login() // one token back after the refill interval
			},
		},
		{
			name: "an unknown username is limited the same way", opts: tightLimits,
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				for range 3 {
					wrongLogin(e, "nobody")
				}
				return wrongLogin(e, "nobody")
			},
			status: http.StatusTooManyRequests, code: "too_many_requests", detail: "try again later",
			after: wantRetryAfter,
		},
		{
			name: "password spraying hits the per-address limit", opts: tightLimits,
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				for i := range 5 {
					wrongLogin(e, fmt.Sprintf("user%d", i))
				}
				return wrongLogin(e, "user-next")
			},
			status: http.StatusTooManyRequests, code: "too_many_requests", detail: "try again later",
			after: wantRetryAfter,
		},
		{
			name: "spoofed X-Forwarded-For from an untrusted peer",
			opts: func(o *Options) {
				tightLimits(o)
				o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} // not loopback
			},
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				for i := range 5 {
					wrongLogin(e, fmt.Sprintf("user%d", i), "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i), "X-Real-IP", "198.51.100.99")
				}
				return wrongLogin(e, "user-next", "X-Forwarded-For", "198.51.100.200")
			},
			status: http.StatusTooManyRequests, code: "too_many_requests", detail: "try again later",
		},
		{
			name: "spoofed left part of X-Forwarded-For behind the proxy", opts: tightLimits,
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				// nginx appends the real peer; what the client wrote is left of it.
				for i := range 5 {
					wrongLogin(e, fmt.Sprintf("user%d", i), "X-Forwarded-For", fmt.Sprintf("198.51.100.%d, 203.0.113.7", i))
				}
				return wrongLogin(e, "user-next", "X-Forwarded-For", "192.0.2.1, 203.0.113.7")
			},
			status: http.StatusTooManyRequests, code: "too_many_requests", detail: "try again later",
		},
		{
			name: "distinct clients behind the trusted proxy are limited apart", opts: tightLimits,
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				for i := range 5 {
					wrongLogin(e, fmt.Sprintf("user%d", i), "X-Forwarded-For", "203.0.113.7")
				}
				return wrongLogin(e, "user-next", "X-Forwarded-For", "203.0.113.8")
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "invalid username or password",
		},
		{
			name: "user enumeration by status or body",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				rw, bw := wrongLogin(e, testUser)
				ru, bu := e.postForm("/token", url.Values{"username": {"nobody"}, "password": {testPassword}})
				if rw.StatusCode != ru.StatusCode || string(bw) != string(bu) {
					t.Fatalf("wrong password %d %s, unknown user %d %s", rw.StatusCode, bw, ru.StatusCode, bu)
				}
				return ru, bu
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "invalid username or password",
		},
		{
			name: "look-alike username with a zero-width space",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				rw, bw := wrongLogin(e, testUser)
				r, b := e.postForm("/token", url.Values{"username": {"al\u200bice"}, "password": {testPassword}})
				if r.StatusCode != rw.StatusCode || string(b) != string(bw) {
					t.Fatalf("spoofed name %d %s, wrong password %d %s", r.StatusCode, b, rw.StatusCode, bw)
				}
				return r, b
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "invalid username or password",
		},
		{
			name: "username with a right-to-left override",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				return e.postForm("/token", url.Values{"username": {"\u202ecila"}, "password": {testPassword}})
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "invalid username or password",
		},
		{
			name: "SQL in the username",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				return e.postForm("/token", url.Values{"username": {"alice' OR '1'='1"}, "password": {"x' OR '1'='1"}})
			},
			status: http.StatusUnauthorized, code: "invalid_grant", detail: "invalid username or password",
		},
	}
}
