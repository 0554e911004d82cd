package authserver

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var otherSecret = []byte("fedcba9876543210fedcba9876543210-next-secret")

func tokenHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := b64url.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// A key rotation: the server restarted with SECRET_KEY=new and
// SECRET_KEY_PREVIOUS=old accepts access tokens of both, signs with the
// new one, and the sessions (refresh tokens) carry on untouched.
func TestKeyRotationKeepsEveryoneLoggedIn(t *testing.T) {
	before := newEnv(t)
	tr := before.login()
	oldKid := tokenHeader(t, tr.AccessToken)["kid"]

	after, err := New(Options{SecretKey: otherSecret, PreviousKeys: [][]byte{testSecret}, Issuer: "myapp/test",
		Now: before.clock.Now}, before.st)
	if err != nil {
		t.Fatal(err)
	}
	e := before.with(after) // same database, new keys
	if resp, body := e.me(tr.AccessToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("old access token refused after the rotation: %s", body)
	}
	next := e.mustRefresh(tr.RefreshToken)
	newKid := tokenHeader(t, next.AccessToken)["kid"]
	if newKid == oldKid || newKid == "" || oldKid == "" {
		t.Errorf("kid %v → %v: want two different key ids", oldKid, newKid)
	}
	if _, err := jwt.Parse(next.AccessToken, func(*jwt.Token) (any, error) { return otherSecret, nil }); err != nil {
		t.Errorf("new access token not signed with the new key: %v", err)
	}

	// Once SECRET_KEY_PREVIOUS is dropped, old-key tokens are refused.
	final, err := New(Options{SecretKey: otherSecret, Issuer: "myapp/test", Now: before.clock.Now}, before.st)
	if err != nil {
		t.Fatal(err)
	}
	e = before.with(final)
	resp, body := e.me(tr.AccessToken)
	wantError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	if resp, body := e.me(next.AccessToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("new-key token refused: %s", body)
	}
}

func TestPreviousKeyTooShort(t *testing.T) {
	_, err := New(Options{SecretKey: testSecret, PreviousKeys: [][]byte{[]byte("short")}}, openTestStore(t))
	if err == nil || !strings.Contains(err.Error(), "SECRET_KEY_PREVIOUS") {
		t.Fatalf("short previous key: %v", err)
	}
}

// With an audience configured, tokens carry it and /me requires it; a
// PyJWT backend then decodes with audience=.
func TestAudience(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Audience = "shop-api"; o.Now = time.Now })
	tr := e.login()
	resp, body := e.me(tr.AccessToken)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"aud":["shop-api"]`) {
		t.Fatalf("me: %d %s", resp.StatusCode, body)
	}
	noAud := sign(t, jwt.SigningMethodHS256, testSecret, forge(e, nil))
	resp, body = e.me(noAud)
	wantError(t, resp, body, http.StatusUnauthorized, "invalid_token")

	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import jwt").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import jwt (apt install python3-jwt): %v", py, err)
		}
		t.Skipf("%s cannot import jwt: %v", py, err)
	}
	script := `
import sys, jwt
c = jwt.decode(sys.argv[1], sys.argv[2], algorithms=["HS256"], audience="shop-api", issuer="myapp/test")
assert c["sub"] == "alice", c
assert jwt.get_unverified_header(sys.argv[1])["kid"], "no kid"
print("ok")
`
	out, err := exec.Command(py, "-c", script, tr.AccessToken, string(testSecret)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("PyJWT with audience: %v\n%s", err, out)
	}
}
