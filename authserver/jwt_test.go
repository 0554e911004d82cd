package authserver

import (
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMeRejectsBadAccessTokens(t *testing.T) {
	e := newEnv(t)
	good := e.login().AccessToken
	now := e.clock.Now()
	claims := func(mod func(*accessClaims)) accessClaims {
		c := accessClaims{SessionID: "s", RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "myapp/test", Subject: testUser,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		}}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c accessClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"alice"`, `"admin"`, 1)))

	tests := map[string]string{
		"tampered payload":   parts[0] + "." + forged + "." + parts[2],
		"tampered signature": parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"alg none":           sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"alg none unsigned":  base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		"HS512 same key":     sign(jwt.SigningMethodHS512, testSecret, claims(nil)),
		"other key":          sign(jwt.SigningMethodHS256, []byte(strings.Repeat("k", 40)), claims(nil)),
		"no exp":             sign(jwt.SigningMethodHS256, testSecret, claims(func(c *accessClaims) { c.ExpiresAt = nil })),
		"no sub":             sign(jwt.SigningMethodHS256, testSecret, claims(func(c *accessClaims) { c.Subject = "" })),
		"other issuer":       sign(jwt.SigningMethodHS256, testSecret, claims(func(c *accessClaims) { c.Issuer = "myapp/other" })),
		"issued in future": sign(jwt.SigningMethodHS256, testSecret, claims(func(c *accessClaims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour))
		})),
		"garbage": "not.a.jwt",
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := e.me(tok)
			wantError(t, resp, body, http.StatusUnauthorized, "invalid_token")
		})
	}

	// Within the leeway the token still works; past it, it is expired.
	e.clock.Advance(15*time.Minute + jwtLeeway/2)
	if resp, body := e.me(good); resp.StatusCode != 200 {
		t.Fatalf("token inside leeway refused: %s", body)
	}
	e.clock.Advance(jwtLeeway)
	resp, body := e.me(good)
	wantError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	if !strings.Contains(string(body), "expired") {
		t.Errorf("expired token detail: %s", body)
	}
}

// The FastAPI backend decodes our access tokens with PyJWT, the SECRET_KEY
// string from the .env as the key. Debian's python3-jwt is at
// /usr/bin/python3; the python3 first on PATH may lack it.
func TestPyJWTAcceptsAccessToken(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import jwt").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import jwt (apt install python3-jwt): %v", py, err)
		}
		t.Skipf("%s cannot import jwt: %v", py, err)
	}
	// A SECRET_KEY as `myapp env` or `openssl rand -hex 32` writes it.
	secret := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	e := newEnv(t, func(o *Options) {
		o.SecretKey = []byte(secret)
		o.Now = time.Now // PyJWT checks exp and iat against the real clock
	})
	access := e.login().AccessToken
	script := `
import os, sys, jwt
claims = jwt.decode(sys.argv[1], os.environ["SECRET_KEY"], algorithms=["HS256"])
assert claims["sub"] == "alice", claims
assert claims["iss"] == "myapp/test", claims
assert claims["sid"] and claims["jti"], claims
assert claims["exp"] - claims["iat"] == 900, claims
print("ok")
`
	cmd := exec.Command(py, "-c", script, access)
	cmd.Env = append(os.Environ(), "SECRET_KEY="+secret)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("PyJWT refused the access token: %v\n%s", err, out)
	}
	// And the other way round: PyJWT rejects a token signed with another key.
	cmd = exec.Command(py, "-c", script, access)
	cmd.Env = append(os.Environ(), "SECRET_KEY="+strings.Repeat("x", 64))
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("PyJWT accepted a token under the wrong key: %s", out)
	}
}
