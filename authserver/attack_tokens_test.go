package authserver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// forge builds access-token claims as the server would, then lets a case
// change them.
func forge(e *env, mod func(*accessClaims)) accessClaims {
	now := e.clock.Now()
	c := accessClaims{SessionID: "s", RegisteredClaims: jwt.RegisteredClaims{
		Issuer: "myapp/test", Subject: testUser, ID: "j",
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
	}}
	if mod != nil {
		mod(&c)
	}
	return c
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c accessClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var b64url = base64.RawURLEncoding

// meWith returns a run func presenting a token made by mk to GET /me.
func meWith(mk func(t *testing.T, e *env) string) func(t *testing.T, e *env) (*http.Response, []byte) {
	return func(t *testing.T, e *env) (*http.Response, []byte) {
		return e.me(mk(t, e))
	}
}

// badToken is an access-token attack: /me must answer 401 invalid_token.
func badToken(name string, mk func(t *testing.T, e *env) string) attack {
	return attack{name: name, run: meWith(mk), status: http.StatusUnauthorized, code: "invalid_token", detail: "access token"}
}

func accessTokenAttacks() []attack {
	return []attack{
		badToken("alg none signed", func(t *testing.T, e *env) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, forge(e, nil))
		}),
		badToken("alg none without signature", func(t *testing.T, e *env) string {
			parts := strings.Split(e.login().AccessToken, ".")
			return b64url.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
		}),
		badToken("alg swap HS512 same key", func(t *testing.T, e *env) string {
			return sign(t, jwt.SigningMethodHS512, testSecret, forge(e, nil))
		}),
		badToken("alg swap RS256 header HMAC-signed", func(t *testing.T, e *env) string {
			// Key confusion: a verifier that took the header's word would
			// check an RSA signature, or use the secret as a public key.
			payload, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, forge(e, nil)).SigningString()
			head := b64url.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
			body := strings.SplitN(payload, ".", 2)[1]
			m := hmac.New(sha256.New, testSecret)
			m.Write([]byte(head + "." + body))
			return head + "." + body + "." + b64url.EncodeToString(m.Sum(nil))
		}),
		badToken("tampered signature", func(t *testing.T, e *env) string {
			p := strings.Split(e.login().AccessToken, ".")
			return p[0] + "." + p[1] + "." + strings.Repeat("A", len(p[2]))
		}),
		badToken("tampered payload", func(t *testing.T, e *env) string {
			p := strings.Split(e.login().AccessToken, ".")
			raw, _ := b64url.DecodeString(p[1])
			forged := strings.Replace(string(raw), `"alice"`, `"admin"`, 1)
			return p[0] + "." + b64url.EncodeToString([]byte(forged)) + "." + p[2]
		}),
		badToken("signed with another key", func(t *testing.T, e *env) string {
			return sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 40)), forge(e, nil))
		}),
		badToken("expired", func(t *testing.T, e *env) string {
			tok := e.login().AccessToken
			e.clock.Advance(15*time.Minute + 2*jwtLeeway)
			return tok
		}),
		badToken("missing exp", func(t *testing.T, e *env) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, forge(e, func(c *accessClaims) { c.ExpiresAt = nil }))
		}),
		badToken("wrong iss", func(t *testing.T, e *env) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, forge(e, func(c *accessClaims) { c.Issuer = "myapp/other" }))
		}),
		badToken("aud for another service", func(t *testing.T, e *env) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, forge(e, func(c *accessClaims) { c.Audience = jwt.ClaimStrings{"billing"} }))
		}),
		{
			name: "wrong aud when one is required", opts: func(o *Options) { o.Audience = "shop-api" },
			run: meWith(func(t *testing.T, e *env) string {
				return sign(t, jwt.SigningMethodHS256, testSecret, forge(e, func(c *accessClaims) { c.Audience = jwt.ClaimStrings{"billing"} }))
			}),
			status: http.StatusUnauthorized, code: "invalid_token",
		},
		badToken("issued in the future", func(t *testing.T, e *env) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, forge(e, func(c *accessClaims) {
				c.IssuedAt = jwt.NewNumericDate(e.clock.Now().Add(time.Hour))
				c.ExpiresAt = jwt.NewNumericDate(e.clock.Now().Add(2 * time.Hour))
			}))
		}),
		badToken("refresh token as bearer", func(t *testing.T, e *env) string { return e.login().RefreshToken }),
		badToken("garbage bearer", func(t *testing.T, e *env) string { return "not.a.jwt" }),
		badToken("huge bearer under the header limit", func(t *testing.T, e *env) string {
			return strings.Repeat("eyJhbGciOiJIUzI1NiJ9", 600)
		}),
		badToken("unknown kid", func(t *testing.T, e *env) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, forge(e, nil))
			tok.Header["kid"] = "not-a-key"
			s, _ := tok.SignedString([]byte(strings.Repeat("z", 40)))
			return s
		}),
		{
			name: "empty bearer",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				return e.do("GET", "/me", "", "", "Authorization", "Bearer ")
			},
			status: http.StatusUnauthorized, code: "invalid_request", detail: "bearer access token required",
		},
		{
			name: "header of a megabyte of dots",
			run: func(t *testing.T, e *env) (*http.Response, []byte) {
				req := "GET /me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + strings.Repeat(".", 1<<20) + "\r\n\r\n"
				return rawRequest(t, e, []byte(req))
			},
			// net/http answers before any handler runs, in plain text.
			status: http.StatusRequestHeaderFieldsTooLarge,
			body: func(t *testing.T, b []byte) {
				if string(b) != "431 Request Header Fields Too Large" {
					t.Errorf("body %q", b)
				}
			},
		},
	}
}
