package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const (
	authUser     = "alice"
	authPassword = "e2e-correct-horse-battery"
)

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// testAuth: a user made on the host with the CLI logs in through nginx, uses
// the access token, rotates the refresh token (the old one is then refused)
// and logs out.
func testAuth(t *testing.T, e *env) {
	ctx := context.Background()
	base := "https://" + domain + "/auth"

	out, err := e.host.RunInput(ctx, strings.NewReader(authPassword+"\n"),
		"/usr/local/bin/myapp", "auth", "user", "add", authUser, "--password-stdin",
		"--config", "/etc/myapp/"+app+"/myapp.toml")
	if err != nil {
		t.Fatalf("myapp auth user add on the host: %v\n%s", err, out)
	}

	login := func(t *testing.T) (tokenPair, *http.Response) {
		t.Helper()
		form := url.Values{"username": {authUser}, "password": {authPassword}}
		resp, body := get(t, e, "POST", base+"/token", strings.NewReader(form.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if resp.StatusCode != 200 {
			t.Fatalf("POST /auth/token: %s %s", resp.Status, trunc(body))
		}
		var p tokenPair
		if err := json.Unmarshal(body, &p); err != nil || p.AccessToken == "" || p.RefreshToken == "" {
			t.Fatalf("POST /auth/token: %v %s", err, trunc(body))
		}
		return p, resp
	}
	refresh := func(t *testing.T, token string) (int, tokenPair, string) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"refresh_token": token})
		resp, body := get(t, e, "POST", base+"/token/refresh", strings.NewReader(string(b)),
			map[string]string{"Content-Type": "application/json"})
		var p tokenPair
		_ = json.Unmarshal(body, &p)
		return resp.StatusCode, p, string(body)
	}
	me := func(t *testing.T, access string) (int, string) {
		t.Helper()
		resp, body := get(t, e, "GET", base+"/me", nil, map[string]string{"Authorization": "Bearer " + access})
		return resp.StatusCode, string(body)
	}

	var first tokenPair
	t.Run("login", func(t *testing.T) {
		p, resp := login(t)
		first = p
		if p.TokenType != "bearer" || p.ExpiresIn <= 0 {
			t.Errorf("token_type %q expires_in %d", p.TokenType, p.ExpiresIn)
		}
		if !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
			t.Errorf("Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
		}
		ck := strings.ToLower(strings.Join(resp.Header.Values("Set-Cookie"), "\n"))
		for _, attr := range []string{"httponly", "secure", "samesite=strict", "path=/auth/"} {
			if !strings.Contains(ck, attr) {
				t.Errorf("refresh cookie lacks %s: %q", attr, ck)
			}
		}
		form := url.Values{"username": {authUser}, "password": {"wrong"}}
		r, _ := get(t, e, "POST", base+"/token", strings.NewReader(form.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.StatusCode != 401 {
			t.Errorf("login with a wrong password: %s, want 401", r.Status)
		}
	})
	if first.AccessToken == "" {
		t.FailNow()
	}

	t.Run("me", func(t *testing.T) {
		code, body := me(t, first.AccessToken)
		var claims map[string]any
		_ = json.Unmarshal([]byte(body), &claims)
		if code != 200 || claims["sub"] != authUser {
			t.Errorf("GET /auth/me: %d %s; want 200 with sub %q", code, body, authUser)
		}
		if code, _ := me(t, first.AccessToken+"x"); code != 401 {
			t.Errorf("GET /auth/me with a bad token: %d, want 401", code)
		}
	})

	t.Run("pyjwt_accepts_access_token", func(t *testing.T) { testPyJWT(t, e, first.AccessToken) })

	t.Run("refresh_rotates_old_refused", func(t *testing.T) {
		code, second, body := refresh(t, first.RefreshToken)
		if code != 200 || second.AccessToken == "" || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
			t.Fatalf("refresh: %d %s; want 200 with a new pair", code, body)
		}
		if code, body := me(t, second.AccessToken); code != 200 {
			t.Errorf("GET /auth/me with the refreshed access token: %d %s", code, body)
		}
		// DESIGN.md: a concurrent duplicate within a short grace window gets
		// the same successor; after it, reuse is refused. Bound the wait.
		deadline := time.Now().Add(90 * time.Second)
		for {
			code, again, body := refresh(t, first.RefreshToken)
			if code == 401 {
				if !strings.Contains(body, "invalid_grant") {
					t.Errorf("reuse refused with %s, want error invalid_grant", body)
				}
				break
			}
			if code != 200 || again.RefreshToken != second.RefreshToken {
				t.Fatalf("reusing the rotated refresh token: %d %s; want 401 (or, inside the grace window, the same successor)", code, body)
			}
			if time.Now().After(deadline) {
				t.Fatalf("the rotated refresh token was still accepted after 90 s")
			}
			time.Sleep(3 * time.Second)
		}
		// Reuse revokes the whole session (RFC 9700 §4.14.2).
		if code, _, body := refresh(t, second.RefreshToken); code != 401 {
			t.Errorf("successor after detected reuse: %d %s; want 401 (session revoked)", code, body)
		}
	})

	t.Run("logout", func(t *testing.T) {
		p, _ := login(t)
		b, _ := json.Marshal(map[string]string{"refresh_token": p.RefreshToken})
		resp, body := get(t, e, "POST", base+"/logout", strings.NewReader(string(b)),
			map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != 204 {
			t.Fatalf("POST /auth/logout: %s %s; want 204", resp.Status, trunc(body))
		}
		if code, _, body := refresh(t, p.RefreshToken); code != 401 {
			t.Errorf("refresh after logout: %d %s; want 401", code, body)
		}
	})

	t.Run("healthz", func(t *testing.T) {
		resp, body := get(t, e, "GET", base+"/healthz", nil, nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET /auth/healthz: %s %s", resp.Status, trunc(body))
		}
	})
}

// testPyJWT proves a FastAPI/PyJWT backend accepts the access token: Debian's
// python3-jwt decodes it with the host's SECRET_KEY.
func testPyJWT(t *testing.T, e *env, token string) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import jwt").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-jwt missing: %v", err)
		}
		t.Skipf("python3-jwt not installed: %v", err)
	}
	envFile, err := os.ReadFile(e.host.Path("/etc/myapp/" + app + "/.env"))
	if err != nil {
		t.Fatal(err)
	}
	key := envValue(string(envFile), "SECRET_KEY")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c",
		`import jwt, os, sys; print(jwt.decode(sys.stdin.read().strip(), os.environ["SECRET_KEY"], algorithms=["HS256"])["sub"])`)
	cmd.Env = []string{"SECRET_KEY=" + key}
	cmd.Stdin = strings.NewReader(token)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != authUser {
		t.Errorf("PyJWT decode with SECRET_KEY from the host's .env: %v %s", err, out)
	}
}
