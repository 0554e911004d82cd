package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
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
		if code != 2 || !strings.Contains(errs, "unsupported password hash") {
			t.Errorf("bad hash: exit %d %s", code, errs)
		}
		code, _, errs = cli(t, dir, "", "auth", "user", "disable", "nobody")
		if code != 1 || !strings.Contains(errs, `no user "nobody"`) {
			t.Errorf("disable unknown: exit %d %s", code, errs)
		}
		if strings.Contains(errs, "myapp-test-only") {
			t.Errorf("an error shows the database password: %s", errs)
		}
	})
}

// Mistakes in what the user typed exit 2 (usage) before the database is
// touched; a user that does not exist exits 1 and says what to do.
func TestAuthUserInputErrors(t *testing.T) {
	dir := authProject(t, "sqlite:///"+filepath.Join(t.TempDir(), "app.db"))
	tests := []struct {
		name, stdin string
		args        []string
		code        int
		want        string
	}{
		{"zero-width space in the name", "a good password\n", []string{"add", "al\u200bice", "--password-stdin"}, 2, `USERNAME "al\u200bice": invalid username: contains U+200B`},
		{"bidi override in the name", "a good password\n", []string{"add", "\u202egnp.exe", "--password-stdin"}, 2, "invalid username"},
		{"control character in the name", "a good password\n", []string{"add", "bo\x1bb", "--password-stdin"}, 2, "control character"},
		{"empty name", "a good password\n", []string{"add", "", "--password-stdin"}, 2, "invalid username: empty"},
		{"name too long", "a good password\n", []string{"add", strings.Repeat("a", 65), "--password-stdin"}, 2, "longer than 64"},
		{"no password on stdin", "", []string{"add", "bob", "--password-stdin"}, 2, "no password"},
		{"empty password line", "\n", []string{"add", "bob", "--password-stdin"}, 2, "no password"},
		{"short password", "short\n", []string{"add", "bob", "--password-stdin"}, 2, "invalid password: too short"},
		{"long password", strings.Repeat("p", 2000) + "\n", []string{"add", "bob", "--password-stdin"}, 2, "invalid password: too long"},
		{"three CJK characters (nine bytes)", "密码字\n", []string{"add", "bob", "--password-stdin"}, 2, "invalid password: too short: 3 characters, at least 8"},
		{"long password in bytes", strings.Repeat("密", 400) + "\n", []string{"add", "bob", "--password-stdin"}, 2, "too long: 1200 bytes, at most 1024 bytes"},
		{"no terminal for the prompt", "", []string{"add", "bob"}, 2, "--password-stdin"},
		{"bad hash", "$2b$10$tooshort\n", []string{"add", "bob", "--hash-stdin"}, 2, "unsupported password hash"},
		{"both stdin flags", "x\n", []string{"add", "bob", "--hash-stdin", "--password-stdin"}, 2, "exclude each other"},
		{"no name", "", []string{"add"}, 2, "accepts 1 arg"},
		{"passwd: bad name", "a good password\n", []string{"passwd", "bo\u200db", "--password-stdin"}, 2, "invalid username"},
		{"passwd: short password", "short\n", []string{"passwd", "alice", "--password-stdin"}, 2, "too short"},
		{"passwd: three CJK characters", "密码字\n", []string{"passwd", "alice", "--password-stdin"}, 2, "too short: 3 characters"},
		{"passwd: unknown user", "a good password\n", []string{"passwd", "nobody", "--password-stdin"}, 1, `no user "nobody" in the auth database`},
		{"disable: bad name", "", []string{"disable", "alice\u00a0"}, 2, "a space other than U+0020"},
		{"disable: unknown user", "", []string{"disable", "nobody"}, 1, `no user "nobody" in the auth database`},
		{"revoke: unknown user", "", []string{"revoke", "nobody"}, 1, `no user "nobody" in the auth database`},
	}
	if code, _, errs := cli(t, dir, "a good password\n", "auth", "user", "add", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("add alice: exit %d %s", code, errs)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := cli(t, dir, tt.stdin, append([]string{"auth", "user"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, tt.code, tt.want, errs)
			}
			if tt.code == 1 && !strings.Contains(errs, "hint: `myapp auth user list`") {
				t.Errorf("no hint:\n%s", errs)
			}
		})
	}
	code, out, errs := cli(t, dir, "", "auth", "user", "list", "--output", "json")
	if code != 0 || strings.Count(out, `"username"`) != 1 {
		t.Fatalf("after the refused commands, list: exit %d\n%s%s", code, out, errs)
	}

	// Eight characters are enough however many bytes they take.
	if code, _, errs := cli(t, dir, "密码字密码字密码\n", "auth", "user", "add", "cjk", "--password-stdin"); code != 0 {
		t.Fatalf("add with eight CJK characters: exit %d %s", code, errs)
	}

	// A name typed decomposed (NFD) is the precomposed (NFC) user.
	if code, _, errs := cli(t, dir, "a good password\n", "auth", "user", "add", "Jose\u0301", "--password-stdin"); code != 0 {
		t.Fatalf("add NFD name: exit %d %s", code, errs)
	}
	if code, _, errs := cli(t, dir, "a good password\n", "auth", "user", "add", "Jos\u00e9", "--password-stdin"); code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("add the NFC twin: exit %d %s", code, errs)
	}
	if code, _, errs := cli(t, dir, "another password\n", "auth", "user", "passwd", "Jos\u00e9", "--password-stdin"); code != 0 {
		t.Fatalf("passwd by the NFC name: exit %d %s", code, errs)
	}
	if _, out, _ := cli(t, dir, "", "auth", "user", "list"); !strings.Contains(out, "Jos\u00e9") || strings.Contains(out, "Jose\u0301") {
		t.Errorf("list does not show the name in NFC:\n%s", out)
	}
}

// A DB_URL the auth commands cannot use is a configuration error (exit 2)
// naming where it came from, and a database that cannot be reached a
// failure (exit 1); neither message shows the password, in any form.
func TestAuthDBURLErrorsHideThePassword(t *testing.T) {
	t.Setenv("GOGC", "100") // keep auth serve from retuning this process's GC
	t.Setenv("GOMEMLIMIT", "off")
	const pw = "s3cret/Pw:x"
	tests := []struct {
		dbURL string
		where string // "env", "file" or "config"
		code  int
		want  string
	}{
		{"sqlite://user:pw@host", "file", 2, "takes no user or password"},
		{"sqlite://user:" + pw + "@host/app.db", "file", 2, "takes no user or password"},
		{"sqlite:///user:" + pw + "@host/app.db", "env", 2, "takes no user or password"},
		{"mysql+pymysql://app:" + pw + "@localhost", "file", 2, "needs one database name"},
		{"mysql://app:" + pw + "@local host/db", "config", 2, "malformed mysql URL"},
		{"mysql://app:" + url.PathEscape(pw) + "@localhost:port/db", "env", 2, "malformed mysql URL"},
		{"postgresql+psycopg://app:" + url.QueryEscape(pw) + "@localhost/db?sslmode=bogus", "file", 2, "sslmode is invalid"},
		{"mongodb://app:" + pw + "@localhost/db", "file", 2, "database not supported"},
		{"mysql+pymysql://app:" + pw + "@127.0.0.1:1/db", "file", 1, "connection refused"},
		{"postgresql+psycopg://app:" + pw + "@127.0.0.1:1/db", "env", 1, "connection refused"},
	}
	for i, tt := range tests {
		// Subtests are numbered: their names go into temporary paths,
		// which the messages show.
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := authProject(t, "")
			switch tt.where {
			case "env":
				t.Setenv("DB_URL", tt.dbURL)
				tt.want = "DB_URL in the environment"
			case "file":
				os.WriteFile(filepath.Join(dir, ".env"), []byte("SECRET_KEY="+cliSecret+"\nDB_URL="+tt.dbURL+"\n"), 0o600)
				tt.want = "DB_URL in " + filepath.Join(dir, ".env")
			case "config":
				cfg := "app = \"shop\"\ndomains = [\"shop.example.com\"]\n[auth]\ndb_url = \"" + tt.dbURL + "\"\n"
				os.WriteFile(filepath.Join(dir, "myapp.toml"), []byte(cfg), 0o644)
				tt.want = "auth.db_url in " + filepath.Join(dir, "myapp.toml")
			}
			for _, args := range [][]string{
				{"auth", "user", "list"},
				{"auth", "user", "disable", "alice"},
				{"auth", "serve", "--listen", "127.0.0.1:9"}, // fails before it listens
			} {
				code, out, errs := cli(t, dir, "", args...)
				if code != tt.code || !strings.Contains(errs, tt.want) {
					t.Errorf("DB_URL %s: myapp %s: exit %d, want %d naming %q:\n%s", tt.dbURL, strings.Join(args, " "), code, tt.code, tt.want, errs)
				}
				for _, form := range []string{pw, url.PathEscape(pw), url.QueryEscape(pw), ":pw@", "s3cret"} {
					if strings.Contains(out+errs, form) {
						t.Errorf("myapp %s shows the password as %q:\n%s", strings.Join(args, " "), form, errs)
					}
				}
			}
		})
	}
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
