package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/myapp/myapp/envfile"
)

const cliSecret = "cli-test-secret-0123456789abcdef0123456789abcdef"

// authProject writes a project directory: myapp.toml and a .env holding
// dbURL and a SECRET_KEY, as `myapp env` would.
func authProject(t *testing.T, dbURL string) string {
	t.Helper()
	t.Setenv("SECRET_KEY", "") // the process environment would win over the .env
	t.Setenv("SECRET_KEY_PREVIOUS", "")
	t.Setenv("DB_URL", "")
	dir := t.TempDir()
	cfg := "app = \"shop\"\ndomains = [\"shop.example.com\"]\n[auth]\nlisten = \"127.0.0.1:9000\"\n"
	if err := os.WriteFile(filepath.Join(dir, "myapp.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	env := "# secrets\nSECRET_KEY=" + cliSecret + "\nDB_URL=" + dbURL + "\nAPI_TOKEN=kept\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cli runs myapp in-process with the project's config.
func cli(t *testing.T, dir, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--config", filepath.Join(dir, "myapp.toml"))
	code = Main(args, strings.NewReader(stdin), &out, &errb, "test")
	return code, out.String(), errb.String()
}

func TestAuthUserCommandsOnEveryBackend(t *testing.T) {
	forEachAuthBackend(t, func(t *testing.T, dbURL string) {
		dir := authProject(t, dbURL)
		must := func(stdin string, args ...string) string {
			t.Helper()
			code, out, errs := cli(t, dir, stdin, args...)
			if code != 0 {
				t.Fatalf("myapp %s: exit %d\n%s", strings.Join(args, " "), code, errs)
			}
			return out
		}
		must("first password\n", "auth", "user", "add", "alice", "--password-stdin")
		h, _ := bcrypt.GenerateFromPassword([]byte("from passlib"), bcrypt.MinCost)
		must(string(h)+"\n", "auth", "user", "add", "bob", "--hash-stdin")
		must("second password\n", "auth", "user", "passwd", "alice", "--password-stdin")
		must("", "auth", "user", "revoke", "alice")
		must("", "auth", "user", "disable", "bob")

		var list struct {
			Users []struct {
				Username string `json:"username"`
				Disabled bool   `json:"disabled"`
			} `json:"users"`
		}
		if err := json.Unmarshal([]byte(must("", "auth", "user", "list", "--output", "json")), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Users) != 2 || list.Users[0].Username != "alice" || list.Users[0].Disabled ||
			list.Users[1].Username != "bob" || !list.Users[1].Disabled {
			t.Fatalf("user list %+v", list.Users)
		}
		if out := must("", "auth", "user", "list"); !strings.Contains(out, "bob") || !strings.Contains(out, "disabled") {
			t.Errorf("text list:\n%s", out)
		}

		code, _, errs := cli(t, dir, "x password\n", "auth", "user", "add", "alice", "--password-stdin")
		if code != 1 || !strings.Contains(errs, "already exists") {
			t.Errorf("duplicate add: exit %d %s", code, errs)
		}
		code, _, errs = cli(t, dir, "not a hash\n", "auth", "user", "add", "carol", "--hash-stdin")
		if code != 1 || !strings.Contains(errs, "unsupported password hash") {
			t.Errorf("bad hash: exit %d %s", code, errs)
		}
		code, _, errs = cli(t, dir, "", "auth", "user", "disable", "nobody")
		if code != 1 || !strings.Contains(errs, "not found") {
			t.Errorf("disable unknown: exit %d %s", code, errs)
		}
		if strings.Contains(errs, "myapp-test-only") {
			t.Errorf("an error shows the database password: %s", errs)
		}
	})
}

func TestAuthRotateKey(t *testing.T) {
	dir := authProject(t, "sqlite:///"+filepath.Join(t.TempDir(), "app.db"))
	envPath := filepath.Join(dir, ".env")
	code, out, errs := cli(t, dir, "", "auth", "rotate-key")
	if code != 0 {
		t.Fatalf("rotate-key: exit %d %s", code, errs)
	}
	data, _ := os.ReadFile(envPath)
	f := envfile.Parse(data)
	next, _ := f.Get("SECRET_KEY")
	prev, _ := f.Get("SECRET_KEY_PREVIOUS")
	if prev != cliSecret || len(next) < 32 || next == cliSecret {
		t.Fatalf("after rotation SECRET_KEY=%d chars, SECRET_KEY_PREVIOUS is the old key: %v", len(next), prev == cliSecret)
	}
	if v, _ := f.Get("API_TOKEN"); v != "kept" || !strings.HasPrefix(string(data), "# secrets\n") {
		t.Errorf("other lines not kept:\n%s", data)
	}
	if fi, _ := os.Stat(envPath); fi.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %v, want 0600", fi.Mode().Perm())
	}
	for _, key := range []string{cliSecret, next} {
		if strings.Contains(out+errs, key) {
			t.Fatalf("rotate-key printed a key:\n%s%s", out, errs)
		}
	}
	if !strings.Contains(errs, "restart shop-auth.service") {
		t.Errorf("no restart hint: %s", errs)
	}

	// Again, in JSON: the previous key moves on, and the output names no key.
	code, out, errs = cli(t, dir, "", "auth", "rotate-key", "--output", "json")
	if code != 0 || !strings.Contains(out, `"env_file"`) || strings.Contains(out+errs, next) {
		t.Fatalf("second rotation: exit %d\n%s%s", code, out, errs)
	}
	data, _ = os.ReadFile(envPath)
	if p, _ := envfile.Parse(data).Get("SECRET_KEY_PREVIOUS"); p != next {
		t.Error("second rotation did not keep the then-current key as previous")
	}

	os.Remove(envPath)
	if code, _, errs := cli(t, dir, "", "auth", "rotate-key"); code != 2 || !strings.Contains(errs, "no .env") {
		t.Errorf("rotate-key without .env: exit %d %s", code, errs)
	}
}
